/**
 * What `/v1/batch` accepts, as pure functions of the request body: the JSON, the batch array, each
 * event's size and shape (Segment's HTTP Tracking API rules). Pure so that a route worker can run
 * them on its own core (route-pool.ts) and the request thread only commits.
 */
import { isUtf8 } from 'node:buffer'
import { checkEvent, MAX_EVENT_DEPTH, TOO_DEEP_ERROR, type SegmentEvent } from '../pipeline/event.js'
import { jsonBytesBound, jsonDeeperThan, TOO_DEEP } from '../util/json.js'

export const MAX_EVENT_BYTES = 32 * 1024
export const MAX_BATCH_BYTES = 500 * 1024

/** A request refused with its HTTP status and a message naming the problem. */
export class IngestError extends Error {
  constructor(
    readonly status: 400 | 401 | 413,
    message: string
  ) {
    super(message)
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The request body's bytes as text; bytes that are not UTF-8 are refused rather than replaced by U+FFFD. */
export function decodeBody(bytes: Uint8Array): string {
  if (!isUtf8(bytes)) throw new IngestError(400, 'the request body is not valid UTF-8 (JSON text must be UTF-8)')
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}

/**
 * An error thrown while checking or routing a body that is the body's fault: a stack overflow can
 * only come from its shape (every check bounds the depth first; this is the net under them).
 */
export function asIngestError(err: unknown): IngestError | undefined {
  if (err instanceof IngestError) return err
  if (err instanceof RangeError && /call stack/i.test(err.message))
    return new IngestError(400, `the request is nested too deeply to process: the limit is ${MAX_EVENT_DEPTH} levels per event`)
  return undefined
}

/** The request body as JSON (an empty body is refused with its own message). */
export function parseBody(text: string): unknown {
  if (text.trim() === '') throw new IngestError(400, 'the request body is empty: expected a JSON object')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new IngestError(400, `the request body is not valid JSON: ${(err as Error).message}`)
  }
}

/** One event as ingestion accepts it: no write key kept, at most 32 KB and MAX_EVENT_DEPTH levels, a Segment event's shape. */
export function checkOne(raw: unknown, typeHint: string | undefined, at: string): SegmentEvent {
  if (isObject(raw)) delete raw.writeKey
  // One bounded walk settles depth and size for nearly every event; serialised only when its upper
  // bound of the size does not settle it (this check cost as much as parsing), after a full depth check.
  const bound = jsonBytesBound(raw, MAX_EVENT_BYTES, MAX_EVENT_DEPTH)
  if (bound === TOO_DEEP) throw new IngestError(400, `${at}${TOO_DEEP_ERROR}`)
  if (bound > MAX_EVENT_BYTES) {
    if (jsonDeeperThan(raw, MAX_EVENT_DEPTH)) throw new IngestError(400, `${at}${TOO_DEEP_ERROR}`)
    const size = Buffer.byteLength(JSON.stringify(raw) ?? '')
    if (size > MAX_EVENT_BYTES) throw new IngestError(413, `${at}the event is ${Math.ceil(size / 1024)} KB: Segment's limit is 32 KB per event`)
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

/** A `/v1/batch` body as received → its checked events (the write key was checked from the header). */
export function batchFromBytes(bytes: Uint8Array, receivedAt: string): SegmentEvent[] {
  const body = parseBody(decodeBody(bytes))
  if (!isObject(body)) throw new IngestError(400, 'the request body must be a JSON object with a "batch" array')
  return batchEvents(body, receivedAt)
}
