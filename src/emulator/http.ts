/** Plumbing shared by the emulator's route modules: envelopes, fault answers, request-log bookkeeping. */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { messageForCode, newRequestId, type EnvelopeResult } from './envelope.js'
import { gatewayErrorHtml, isFailingRule, type ActiveFaultRule } from './faults.js'
import type { EmulatorState } from './state.js'

/** What the request log records about one exchange besides the request itself. */
interface ExchangeNote {
  startedAt: number
  code: number | null
  message: string | null
}

const notes = new WeakMap<FastifyRequest, ExchangeNote>()

export function noteRequestStart(request: FastifyRequest): void {
  notes.set(request, { startedAt: performance.now(), code: null, message: null })
}

export function noteAnswer(request: FastifyRequest, code: number | null, message: string | null): void {
  const note = notes.get(request)
  if (note) {
    note.code = code
    note.message = message
  }
}

export function exchangeNote(request: FastifyRequest): ExchangeNote | undefined {
  return notes.get(request)
}

/** Request path without the plugin prefix and query string. */
export function pathWithoutPrefix(request: FastifyRequest, prefix: string): string {
  const url = request.url
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  return prefix && path.startsWith(prefix) ? path.slice(prefix.length) || '/' : path
}

/** Sends a TikTok envelope with HTTP 200 (business errors included, as TikTok does). */
export function sendEnvelope(request: FastifyRequest, reply: FastifyReply, state: EmulatorState, result: EnvelopeResult): FastifyReply {
  noteAnswer(request, result.code, result.message)
  return reply
    .code(200)
    .type('application/json; charset=utf-8')
    .send({ code: result.code, message: result.message, request_id: newRequestId(state.now()), data: result.data ?? {} })
}

/** First query value of `name` as a string (repeated parameters keep the first). */
export function queryString(request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Record<string, unknown> | undefined)?.[name]
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined
  return typeof v === 'string' ? v : undefined
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Runs a matching fault rule: waits its latency, then (for failing rules) sends the fault answer.
 * Returns true when the reply was sent and the request must not be handled.
 */
export async function runFault(rule: ActiveFaultRule, request: FastifyRequest, reply: FastifyReply, state: EmulatorState, apiPath: string): Promise<boolean> {
  if (rule.latencyMs) await sleep(rule.latencyMs)
  if (!isFailingRule(rule)) return false
  if (rule.reset) {
    noteAnswer(request, null, 'connection reset (fault)')
    // RST rather than FIN: the client sees ECONNRESET, as when a proxy drops the connection.
    request.raw.socket.resetAndDestroy()
    reply.hijack()
    return true
  }
  const status = rule.httpStatus ?? 200
  if (status >= 500) {
    noteAnswer(request, null, null)
    reply.code(status).type('text/html').send(gatewayErrorHtml(status))
    return true
  }
  const code = rule.code ?? (status === 429 ? 40100 : 50000)
  const message = rule.message ?? messageForCode(code, apiPath, request.method)
  noteAnswer(request, code, message)
  reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ code, message, request_id: newRequestId(state.now()), data: {} })
  return true
}
