/**
 * Admin authentication for `/api` and `/oauth/tiktok/start`: HTTP Basic `admin:<ADMIN_PASSWORD>`
 * (scripts), or a console session cookie plus its CSRF header for writes (session.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { checkSession, safeEqual } from './session.js'

export function basicAuthOk(header: string | undefined, password: string): boolean {
  if (!header?.startsWith('Basic ')) return false
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  return i > 0 && decoded.slice(0, i) === 'admin' && safeEqual(decoded.slice(i + 1), password)
}

export function requireAdmin(password: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (basicAuthOk(request.headers.authorization, password)) return
    const session = checkSession(request, password)
    if (session.ok) return
    if (session.reason === 'csrf') return reply.code(403).send({ error: 'this request needs the console\'s CSRF token (x-csrf-token header): reload the console' })
    // No Basic challenge for the console's own requests: the browser would pop up its login dialog.
    if (!request.headers['x-requested-with']) reply.header('www-authenticate', 'Basic realm="tiktok-audiences admin"')
    return reply.code(401).send({ error: 'admin authentication required: HTTP Basic admin:<ADMIN_PASSWORD>, or sign in to the console' })
  }
}
