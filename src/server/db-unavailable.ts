/** The answer while the database is unreachable: 503 with Retry-After (retry-later.ts), so clients (Segment's SDKs) retry later. */
import type { FastifyReply } from 'fastify'
import { retryLater } from './retry-later.js'

export function replyDatabaseUnavailable(reply: FastifyReply, message = 'the database is unavailable; retry later', body?: Record<string, unknown>): FastifyReply {
  return retryLater(reply, 503, message, { body })
}
