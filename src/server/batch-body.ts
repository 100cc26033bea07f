/**
 * What `/v1/batch` accepts, as pure functions of the request body: the JSON, the batch array, each
 * event's size and shape (Segment's HTTP Tracking API rules). Pure so that a route worker can run
 * them on its own core (route-pool.ts) and the request thread only commits.
 */
import { checkEvent, type SegmentEvent } from '../pipeline/event.js'
import { jsonBytesBound } from '../util/json.js'

export const MAX_EVENT_BYTES = 32 * 1024
export const MAX_BATCH_BYTES = 500 * 1024

/** A request refused with its HTTP status and a message naming the problem. */
export class IngestError extends Error {
  constructor(readonly status: 400 | 401 | 413, message: string) {
    super(message)
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The request body as JSON (an empty body is refused with its own message). */
export function parseBody(text: string): unknown {
  if (text.trim() === '') throw new IngestError(400, 'the request body is empty: expected a JSON object')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new IngestError(400, `the request body is not valid JSON: ${(err as Error).message}`)
  }
}

/** One event as ingestion accepts it: no write key kept, at most 32 KB, a Segment event's shape. */
export function checkOne(raw: unknown, typeHint: string | undefined, at: string): SegmentEvent {
  if (isObject(raw)) delete raw.writeKey
  // Serialised only when a cheap upper bound of its size does not settle it (this check cost as much as parsing).
  if (jsonBytesBound(raw, MAX_EVENT_BYTES) > MAX_EVENT_BYTES) {
    const size = Buffer.byteLength(JSON.stringify(raw) ?? '')
    if (size > MAX_EVENT_BYTES) throw new IngestError(413, `${at}is ${Math.ceil(size / 1024)} KB: Segment's limit is 32 KB per event`)
  }
  const check = checkEvent(raw, typeHint)
  if (!check.ok) throw new IngestError(400, `${at}${check.error}`)
  return check.event
}

/**
 * The events of a parsed `/v1/batch` body, each checked, stamped with `receivedAt`. Top-level
 * context/integrations apply to every event that has none of its own (Segment's batch semantics).
 */
export function batchEvents(body: Record<string, unknown>, receivedAt: string): SegmentEvent[] {
  if (!Array.isArray(body.batch)) throw new IngestError(400, '"batch" must be an array of events')
  const context = isObject(body.context) ? body.context : undefined
  const integrations = isObject(body.integrations) ? body.integrations : undefined
  return body.batch.map((raw: unknown, i: number) => {
    if (isObject(raw)) {
      if (raw.context === undefined && context) raw.context = context
      if (raw.integrations === undefined && integrations) raw.integrations = integrations
    }
    const event = checkOne(raw, undefined, `batch[${i}]: `)
    event.receivedAt = receivedAt
    return event
  })
}

/** A `/v1/batch` body as text → its checked events (the write key was checked from the header). */
export function batchFromText(text: string, receivedAt: string): SegmentEvent[] {
  const body = parseBody(text)
  if (!isObject(body)) throw new IngestError(400, 'the request body must be a JSON object with a "batch" array')
  return batchEvents(body, receivedAt)
}
