/** Admin authentication for `/api`: HTTP Basic `admin:<ADMIN_PASSWORD>` (scripts) — sessions are added by the console. */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function basicAuthOk(header: string | undefined, password: string): boolean {
  if (!header?.startsWith('Basic ')) return false
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  return i > 0 && decoded.slice(0, i) === 'admin' && safeEqual(decoded.slice(i + 1), password)
}

export function requireAdmin(password: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (basicAuthOk(request.headers.authorization, password)) return
    reply.header('www-authenticate', 'Basic realm="tiktok-audiences admin"')
    return reply.code(401).send({ error: 'admin authentication required: HTTP Basic admin:<ADMIN_PASSWORD>' })
  }
}
