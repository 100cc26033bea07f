/**
 * Console sign-in sessions. Stateless on purpose: a session is a signed, expiring token in an
 * HttpOnly cookie, so several service processes behind one address (SPEC §3.2) accept the same
 * session without sharing memory, and changing ADMIN_PASSWORD signs every session out.
 * CSRF: the cookie is SameSite=Strict, and every state-changing request must also carry the
 * session's CSRF token in `x-csrf-token` (derived from the session, handed to the page at sign-in),
 * which another site can neither read nor forge.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from './context.js'
import { retryLater } from './retry-later.js'

export const SESSION_COOKIE = 'tta_session'
export const CSRF_HEADER = 'x-csrf-token'
export const SESSION_TTL_MS = 12 * 3600_000

/** Failed sign-ins per client address within a minute before answering 429. */
const MAX_FAILURES_PER_MINUTE = 10

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

function signingKey(password: string): Buffer {
  return createHmac('sha256', password).update('tiktok-audiences console session v1').digest()
}

const mac = (password: string, text: string): string => createHmac('sha256', signingKey(password)).update(text).digest('base64url')

/** Constant-time comparison of two secrets. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function createSessionToken(password: string, now = Date.now()): string {
  const body = `v1.${now + SESSION_TTL_MS}.${randomBytes(16).toString('base64url')}`
  return `${body}.${mac(password, body)}`
}

/** The session token when it is well signed and not expired. */
export function verifySessionToken(token: string | undefined, password: string, now = Date.now()): string | undefined {
  if (!token) return undefined
  const parts = token.split('.')
  if (parts.length !== 4 || parts[0] !== 'v1') return undefined
  const body = parts.slice(0, 3).join('.')
  if (!safeEqual(parts[3], mac(password, body))) return undefined
  return Number(parts[1]) > now ? token : undefined
}

export const csrfTokenFor = (session: string, password: string): string => mac(password, `csrf:${session}`)

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim())
  }
  return undefined
}

export type SessionCheck = { ok: true } | { ok: false; reason: 'no-session' | 'csrf' }

/** A valid session cookie passes for reads; writes need the matching CSRF header too. */
export function checkSession(request: FastifyRequest, password: string): SessionCheck {
  const session = verifySessionToken(cookieValue(request.headers.cookie, SESSION_COOKIE), password)
  if (!session) return { ok: false, reason: 'no-session' }
  if (SAFE_METHODS.has(request.method)) return { ok: true }
  const sent = request.headers[CSRF_HEADER]
  return typeof sent === 'string' && safeEqual(sent, csrfTokenFor(session, password)) ? { ok: true } : { ok: false, reason: 'csrf' }
}

function setCookie(request: FastifyRequest, reply: FastifyReply, value: string, maxAgeS: number, publicUrl: string): void {
  const secure = request.protocol === 'https' || publicUrl.startsWith('https:') ? '; Secure' : ''
  reply.header('set-cookie', `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`)
}

/** `/session`: sign in with the admin password, ask who is signed in, sign out. */
export const sessionPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const failures = new Map<string, number[]>()

  app.get('/session', async (request) => {
    const session = verifySessionToken(cookieValue(request.headers.cookie, SESSION_COOKIE), ctx.adminPassword)
    return session ? { signedIn: true, csrfToken: csrfTokenFor(session, ctx.adminPassword) } : { signedIn: false }
  })

  app.post<{ Body: { password?: unknown } }>('/session', async (request, reply) => {
    const now = Date.now()
    // Forget addresses whose failures are over a minute old, so the map cannot grow without bound.
    for (const [ip, times] of failures) if (now - times[times.length - 1] >= 60_000) failures.delete(ip)
    const recent = (failures.get(request.ip) ?? []).filter((t) => now - t < 60_000)
    if (recent.length >= MAX_FAILURES_PER_MINUTE) {
      return retryLater(reply, 429, 'Too many failed sign-ins from this address: wait a minute and try again.', { seconds: Math.max(1, Math.ceil((recent[0] + 60_000 - now) / 1000)) })
    }
    const password = request.body?.password
    if (typeof password !== 'string' || !safeEqual(password, ctx.adminPassword)) {
      recent.push(now)
      failures.set(request.ip, recent)
      return reply.code(401).send({ error: 'Wrong password. Use the admin password printed by `npm start` (or ADMIN_PASSWORD).', field: 'password' })
    }
    failures.delete(request.ip)
    const session = createSessionToken(ctx.adminPassword, now)
    setCookie(request, reply, session, SESSION_TTL_MS / 1000, ctx.publicUrl)
    return { signedIn: true, csrfToken: csrfTokenFor(session, ctx.adminPassword) }
  })

  app.delete('/session', async (request, reply) => {
    // Signing out is a write: only the page holding the CSRF token may do it.
    if (!checkSession(request, ctx.adminPassword).ok) return reply.code(403).send({ error: 'not signed in, or missing CSRF token' })
    setCookie(request, reply, '', 0, ctx.publicUrl)
    return { signedIn: false }
  })
}
