/**
 * Console sign-in sessions. A session is a signed, expiring token in an HttpOnly cookie, so several
 * service processes behind one address (SPEC §3.2) accept the same session without sharing memory,
 * and changing ADMIN_PASSWORD signs every session out. Signing out records the session's id in the
 * database (revoked_sessions, kept until the token would have expired), which every process checks.
 * CSRF: the cookie is SameSite=Strict, and every state-changing request must also carry the
 * session's CSRF token in `x-csrf-token` (derived from the session, handed to the page at sign-in),
 * which another site can neither read nor forge.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isSessionRevoked, revokeSession } from '../store/sql/admin-sessions.js'
import type { ServerContext } from './context.js'
import { sendTooManyFailures } from './password-throttle.js'

export const SESSION_COOKIE = 'tta_session'
export const CSRF_HEADER = 'x-csrf-token'
export const SESSION_TTL_MS = 12 * 3600_000

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

function signingKey(password: string): Buffer {
  return createHmac('sha256', password).update('tiktok-audiences console session v1').digest()
}

const mac = (password: string, text: string): string => createHmac('sha256', signingKey(password)).update(text).digest('base64url')

/** Constant-time comparison of two secrets: their SHA-256 digests are compared, so not even the length shows. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

export function createSessionToken(password: string, now = Date.now()): string {
  const body = `v1.${now + SESSION_TTL_MS}.${randomBytes(16).toString('base64url')}`
  return `${body}.${mac(password, body)}`
}

export interface Session {
  token: string
  /** The token's random part: what signing out records. */
  id: string
  expiresAt: number
}

/** The session when its token is well signed and not expired (revocation is checked by `checkSession`). */
export function parseSessionToken(token: string | undefined, password: string, now = Date.now()): Session | undefined {
  if (!token) return undefined
  const parts = token.split('.')
  const [version, expires, id, signature] = parts
  if (parts.length !== 4 || version !== 'v1' || expires === undefined || id === undefined || signature === undefined) return undefined
  if (!safeEqual(signature, mac(password, parts.slice(0, 3).join('.')))) return undefined
  const expiresAt = Number(expires)
  return expiresAt > now ? { token, id, expiresAt } : undefined
}

export const verifySessionToken = (token: string | undefined, password: string, now = Date.now()): string | undefined =>
  parseSessionToken(token, password, now)?.token

export const csrfTokenFor = (session: string, password: string): string => mac(password, `csrf:${session}`)

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim())
  }
  return undefined
}

export type SessionCheck = { ok: true; session: Session } | { ok: false; reason: 'no-session' | 'csrf' }

/** The request's session when signed, unexpired and not signed out. */
async function currentSession(request: FastifyRequest, ctx: ServerContext): Promise<Session | undefined> {
  const session = parseSessionToken(cookieValue(request.headers.cookie, SESSION_COOKIE), ctx.adminPassword)
  return session && !(await isSessionRevoked(ctx.store.db, session.id)) ? session : undefined
}

/** A valid session cookie passes for reads; writes need the matching CSRF header too. */
export async function checkSession(request: FastifyRequest, ctx: ServerContext): Promise<SessionCheck> {
  const session = await currentSession(request, ctx)
  if (!session) return { ok: false, reason: 'no-session' }
  if (SAFE_METHODS.has(request.method)) return { ok: true, session }
  const sent = request.headers[CSRF_HEADER]
  return typeof sent === 'string' && safeEqual(sent, csrfTokenFor(session.token, ctx.adminPassword)) ? { ok: true, session } : { ok: false, reason: 'csrf' }
}

function setCookie(request: FastifyRequest, reply: FastifyReply, value: string, maxAgeS: number, publicUrl: string): void {
  const secure = request.protocol === 'https' || publicUrl.startsWith('https:') ? '; Secure' : ''
  reply.header('set-cookie', `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`)
}

/** `/session`: sign in with the admin password, ask who is signed in, sign out. */
export const sessionPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get('/session', async (request) => {
    const session = await currentSession(request, ctx)
    return session ? { signedIn: true, csrfToken: csrfTokenFor(session.token, ctx.adminPassword) } : { signedIn: false }
  })

  app.post<{ Body: { password?: unknown } }>('/session', async (request, reply) => {
    const now = Date.now()
    const wait = ctx.passwordThrottle.retryAfterSeconds(request.ip, now)
    if (wait > 0) return sendTooManyFailures(reply, wait)
    const password = request.body?.password
    if (typeof password !== 'string' || !safeEqual(password, ctx.adminPassword)) {
      ctx.passwordThrottle.recordFailure(request.ip, now)
      return reply.code(401).send({ error: 'Wrong password. Use the admin password printed by `npm start` (or ADMIN_PASSWORD).', field: 'password' })
    }
    const session = createSessionToken(ctx.adminPassword, now)
    setCookie(request, reply, session, SESSION_TTL_MS / 1000, ctx.publicUrl)
    return { signedIn: true, csrfToken: csrfTokenFor(session, ctx.adminPassword) }
  })

  app.delete('/session', async (request, reply) => {
    // Signing out is a write: only the page holding the CSRF token may do it.
    const check = await checkSession(request, ctx)
    if (!check.ok) return reply.code(403).send({ error: 'not signed in, or missing CSRF token' })
    // Revoked for every process, not only forgotten by this browser: a copied cookie stops working too.
    await revokeSession(ctx.store.db, check.session.id, check.session.expiresAt, Date.now())
    setCookie(request, reply, '', 0, ctx.publicUrl)
    return { signedIn: false }
  })
}
