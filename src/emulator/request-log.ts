/**
 * Log of the requests the emulator answered, for tests and the control API.
 * Bodies are kept by reference (no copy). Their total size is bounded too, because the benchmark sends
 * thousands of ~3 MB mapping bodies: once the budget is exceeded the oldest entries lose their body.
 */

export interface RequestLogEntry {
  seq: number
  /** ISO-8601 time the request arrived. */
  time: string
  method: string
  /** Path without the plugin prefix and query string, e.g. `/open_api/v1.3/segment/mapping/`. */
  path: string
  query: unknown
  /** As received: parsed JSON, or a scanned mapping body (ScannedMappingBody: its text, serialised as the JSON sent). */
  body: unknown
  httpStatus: number
  /** TikTok code of the answer, or null when the answer was not an envelope (HTML, redirect). */
  code: number | null
  message: string | null
  durationMs: number
}

export interface RequestLogFilter {
  /** Substring of `path`. */
  path?: string
  /** Only entries with `seq` greater than this. */
  since?: number
}

export const DEFAULT_REQUEST_LOG_SIZE = 2000
export const DEFAULT_REQUEST_LOG_BODY_BYTES = 64 * 1024 * 1024

export class RequestLog {
  private entries: RequestLogEntry[] = []
  private bodyBytes: number[] = []
  private retainedBodyBytes = 0
  /** Index into `entries` of the oldest entry that may still hold a body. */
  private oldestBodyIndex = 0
  private nextSeq = 1

  constructor(
    private readonly maxEntries = DEFAULT_REQUEST_LOG_SIZE,
    private readonly maxBodyBytes = DEFAULT_REQUEST_LOG_BODY_BYTES
  ) {}

  /** Appends an entry; `bodySize` is the body's size on the wire (content-length), used for the memory budget. */
  add(entry: Omit<RequestLogEntry, 'seq'>, bodySize: number): RequestLogEntry {
    const full: RequestLogEntry = { seq: this.nextSeq++, ...entry }
    this.entries.push(full)
    this.bodyBytes.push(bodySize)
    this.retainedBodyBytes += bodySize
    this.enforceBodyBudget()
    // Trim in chunks so appending stays amortised O(1).
    if (this.entries.length > this.maxEntries + Math.min(256, this.maxEntries)) {
      this.dropOldest(this.entries.length - this.maxEntries)
    }
    return full
  }

  list(filter: RequestLogFilter = {}): RequestLogEntry[] {
    const start = Math.max(0, this.entries.length - this.maxEntries)
    const out: RequestLogEntry[] = []
    for (const e of this.entries.slice(start)) {
      if (filter.since !== undefined && e.seq <= filter.since) continue
      if (filter.path !== undefined && !e.path.includes(filter.path)) continue
      out.push(e)
    }
    return out
  }

  clear(): void {
    this.entries = []
    this.bodyBytes = []
    this.retainedBodyBytes = 0
    this.oldestBodyIndex = 0
  }

  private enforceBodyBudget(): void {
    // Never drop the newest entry's body: the latest request is the one a test most likely inspects.
    const last = this.entries.length - 1
    while (this.retainedBodyBytes > this.maxBodyBytes && this.oldestBodyIndex < last) {
      const i = this.oldestBodyIndex++
      const size = this.bodyBytes[i] ?? 0
      const entry = this.entries[i]
      if (size > 0 && entry && entry.body !== null) {
        entry.body = { omitted: 'body dropped to bound the emulator request log memory', bytes: size }
        this.retainedBodyBytes -= size
        this.bodyBytes[i] = 0
      }
    }
  }

  private dropOldest(count: number): void {
    for (let i = 0; i < count; i++) this.retainedBodyBytes -= this.bodyBytes[i] ?? 0
    this.entries.splice(0, count)
    this.bodyBytes.splice(0, count)
    this.oldestBodyIndex = Math.max(0, this.oldestBodyIndex - count)
  }
}
