/**
 * Admin authentication for `/api` and `/oauth/tiktok/start`: HTTP Basic `admin:<ADMIN_PASSWORD>`
 * (scripts), or a console session cookie plus its CSRF header for writes (session.ts). Every Basic
 * attempt goes through the same per-address throttle as the console sign-in (password-throttle.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from './context.js'
import { sendTooManyFailures } from './password-throttle.js'
import { checkSession, safeEqual } from './session.js'

const BASIC = /^basic /i

export function basicAuthOk(header: string | undefined, password: string): boolean {
  if (!header || !BASIC.test(header)) return false
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  return i > 0 && decoded.slice(0, i) === 'admin' && safeEqual(decoded.slice(i + 1), password)
}

export function requireAdmin(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const authorization = request.headers.authorization
    if (authorization && BASIC.test(authorization)) {
      // Throttled before the check: past the limit even the right password waits out the window.
      const wait = ctx.passwordThrottle.retryAfterSeconds(request.ip)
      if (wait > 0) return sendTooManyFailures(reply, wait)
      if (basicAuthOk(authorization, ctx.adminPassword)) return
      ctx.passwordThrottle.recordFailure(request.ip)
    }
    const session = await checkSession(request, ctx)
    if (session.ok) return
    if (session.reason === 'csrf')
      return reply.code(403).send({ error: "this request needs the console's CSRF token (x-csrf-token header): reload the console" })
    // No Basic challenge for the console's own requests: the browser would pop up its login dialog.
    if (!request.headers['x-requested-with']) reply.header('www-authenticate', 'Basic realm="tiktok-audiences admin"')
    return reply.code(401).send({ error: 'admin authentication required: HTTP Basic admin:<ADMIN_PASSWORD>, or sign in to the console' })
  }
}
