/** The answer while the database is unreachable: 503 with Retry-After, so clients (Segment's SDKs) retry later. */
import type { FastifyReply } from 'fastify'

export const DATABASE_RETRY_AFTER_SECONDS = 5

export function replyDatabaseUnavailable(reply: FastifyReply, body: Record<string, unknown> = { error: 'the database is unavailable; retry later' }): FastifyReply {
  return reply.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS)).code(503).send(body)
}
