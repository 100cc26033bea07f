import { closeSync, openSync, readSync } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'
import { checkEvent, MAX_EVENT_DEPTH, TOO_DEEP_ERROR, type SegmentEvent } from '../pipeline/event.js'
import { jsonDeeperThan } from '../util/json.js'

export interface NdjsonLine {
  line: number
  value?: unknown
  error?: string
}

export type EventLine = { event: SegmentEvent; problem?: undefined } | { problem: string; event?: undefined }

/**
 * Reads of 64 KiB (about 100 events): one await per read instead of two promise-resolving generator
 * steps per line, and few enough parsed events alive at once (1 MiB reads made send ~15% slower
 * through garbage collection of the route worker).
 */
export const NDJSON_CHUNK_SIZE = 1 << 16

export interface NdjsonReadOptions {
  /** Bytes per read of a file (stdin reads what the pipe gives); tests use tiny ones. */
  chunkSize?: number
}

/**
 * A file's bytes, read synchronously into one buffer: an asynchronous read is a round trip through
 * libuv's thread pool, whose wake-ups cost ~0.3 ms of this thread per 64 KiB read on a busy 2-core
 * machine (about 5% of send's route worker), while a read from the page cache takes microseconds.
 * Each chunk is consumed (decoded) before the next read overwrites it.
 */
function* fileChunks(file: string, size: number): Generator<Buffer> {
  const fd = openSync(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(size)
    for (let n = readSync(fd, buffer, 0, size, null); n > 0; n = readSync(fd, buffer, 0, size, null)) yield buffer.subarray(0, n)
  } finally {
    closeSync(fd)
  }
}

/**
 * Splits a file (or stdin for `-`) into lines exactly as node:readline with `crlfDelay: Infinity`
 * did before: breaks are `\r\n`, `\n` and a lone `\r` (also when a `\r\n` straddles two reads);
 * line numbers are 1-based and count blank lines; a last line without a break counts too. Blank
 * (whitespace-only) lines are skipped; every other line goes through `map`, synchronously, and
 * the results of one read come as one batch.
 */
async function* readLineBatches<T>(file: string, map: (text: string, line: number) => T, options: NdjsonReadOptions = {}): AsyncGenerator<T[]> {
  const input = file === '-' ? process.stdin : fileChunks(file, options.chunkSize ?? NDJSON_CHUNK_SIZE)
  // A multi-byte character split across two reads is held back until it is complete.
  const decoder = new StringDecoder('utf8')
  const lines = new LineSplitter(map)
  for await (const chunk of input as AsyncIterable<Buffer | string> | Iterable<Buffer>) {
    const batch = lines.write(typeof chunk === 'string' ? chunk : decoder.write(chunk))
    if (batch.length > 0) yield batch
  }
  // Like readline, bytes of an unfinished character at the very end are dropped (no decoder.end()).
  const last = lines.end()
  if (last.length > 0) yield last
}

/** readLineBatches' splitting, a class of its own (docs/PERFORMANCE.md §1). */
class LineSplitter<T> {
  private line = 0
  private pending = '' // the start of a line that has not ended yet
  private skipLf = false // the previous read ended with '\r': a '\n' starting this one belongs to it
  private batch: T[] = []

  constructor(private readonly map: (text: string, line: number) => T) {}

  /** The lines `text` completes, mapped. */
  write(text: string): T[] {
    if (text === '') return []
    if (this.skipLf) {
      this.skipLf = false
      if (text.charCodeAt(0) === 10) text = text.slice(1)
    }
    let start = 0
    if (text.indexOf('\r') === -1) {
      // The common case: '\n' only, found with indexOf rather than a regular expression.
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        this.take(this.pending === '' ? text.slice(start, nl) : this.pending + text.slice(start, nl))
        this.pending = ''
        start = nl + 1
      }
    } else {
      const breaks = /\r\n|\r|\n/g
      for (let m = breaks.exec(text); m !== null; m = breaks.exec(text)) {
        this.take(this.pending === '' ? text.slice(start, m.index) : this.pending + text.slice(start, m.index))
        this.pending = ''
        start = breaks.lastIndex
      }
      this.skipLf = text.charCodeAt(text.length - 1) === 13
    }
    if (start < text.length) this.pending += text.slice(start)
    return this.done()
  }

  /** The last line, if the input did not end with a break. */
  end(): T[] {
    if (this.pending !== '') this.take(this.pending)
    this.pending = ''
    return this.done()
  }

  private take(text: string): void {
    this.line++
    if (text.trim() !== '') this.batch.push(this.map(text, this.line))
  }

  private done(): T[] {
    const batch = this.batch
    this.batch = []
    return batch
  }
}

function parseLine(text: string, line: number): NdjsonLine {
  try {
    return { line, value: JSON.parse(text) as unknown }
  } catch (err) {
    return { line, error: `not valid JSON (${(err as Error).message})` }
  }
}

/** The parsed lines of an NDJSON file (or stdin for `-`), in batches; blank lines are skipped but counted. */
export function readNdjsonBatches(file: string, options?: NdjsonReadOptions): AsyncGenerator<NdjsonLine[]> {
  return readLineBatches(file, parseLine, options)
}

/** Reads an NDJSON file (or stdin for `-`) line by line, with 1-based line numbers; blank lines are skipped. */
export async function* readNdjson(file: string, options?: NdjsonReadOptions): AsyncGenerator<NdjsonLine> {
  for await (const batch of readNdjsonBatches(file, options)) yield* batch
}

/**
 * The events of an NDJSON file, each checked as ingestion checks it, in batches; an unusable line
 * comes as a problem naming `file:line`.
 */
export function readEventBatches(file: string, options?: NdjsonReadOptions): AsyncGenerator<EventLine[]> {
  const name = file === '-' ? 'stdin' : file
  return readLineBatches(
    file,
    (text, line): EventLine => {
      const parsed = parseLine(text, line)
      // The depth limit of ingestion (batch-body.ts): what follows (storage, mappings) may recurse over an event.
      const check =
        parsed.error !== undefined
          ? { ok: false as const, error: parsed.error }
          : jsonDeeperThan(parsed.value, MAX_EVENT_DEPTH)
            ? { ok: false as const, error: TOO_DEEP_ERROR }
            : checkEvent(parsed.value)
      return check.ok ? { event: check.event } : { problem: `${name}:${line}: ${check.error}` }
    },
    options
  )
}

/** {@link readEventBatches} one event at a time. */
export async function* readEvents(file: string, options?: NdjsonReadOptions): AsyncGenerator<EventLine> {
  for await (const batch of readEventBatches(file, options)) yield* batch
}
