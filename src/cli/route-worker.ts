/**
 * `send`'s route worker: reads the NDJSON file, checks and routes its events (mappings applied,
 * identifiers hashed) on a second core, and hands the main thread plain routed batches, which it
 * only has to commit and deliver. At most `inFlight` batches wait un-committed (memory stays flat).
 *
 * It is started before the main thread has loaded its own modules and the config (route-worker-start.ts),
 * so that its start-up overlaps theirs; what to read and how to route arrive in its first message
 * (`RouteWorkerStart`), every later message is a credit.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { routeBatch, transferables, type AcceptedEvent, type RoutedBatch } from '../pipeline/route-batch.js'
import { RoutingTable, type RoutingSnapshot } from '../pipeline/routing-table.js'
import { readEventBatches, type EventLine } from './ndjson.js'
import { at } from '../util/array.js'

export interface RouteWorkerStart {
  kind: 'start'
  file: string
  sourceId: number
  snapshot: RoutingSnapshot
  chunk: number
  inFlight: number
}

export type RouteWorkerMessage =
  { kind: 'batch'; batch: RoutedBatch; lines: number; problems: string[] } | { kind: 'end'; lines: number; problems: string[]; error?: string }

/** What the worker is started with (route-worker-start.ts): the file it will be asked to read. */
export interface RouteWorkerData {
  file: string
}

/** At most this many events are read ahead of the start message (~15 MB parsed). */
const READ_AHEAD_EVENTS = 10_000

/**
 * The file's first lines, read and parsed while the main thread still applies the configuration
 * (the routing table comes with the start message; reading needs none): the first batches are
 * routed as soon as it arrives. A read error is kept and raised once the run has started.
 */
class ReadAhead {
  private readonly lines: AsyncIterator<EventLine[]>
  private readonly batches: EventLine[][] = []
  private events = 0
  private ended = false
  private error: unknown
  private stopped = false
  readonly reading: Promise<void>

  constructor(readonly file: string) {
    this.lines = readEventBatches(file)[Symbol.asyncIterator]()
    this.reading = this.read()
  }

  private async read(): Promise<void> {
    while (!this.stopped && !this.ended && this.events < READ_AHEAD_EVENTS) {
      try {
        const r = await this.lines.next()
        if (r.done) this.ended = true
        else {
          this.batches.push(r.value)
          this.events += r.value.length
        }
      } catch (e) {
        this.error = e
        this.ended = true
      }
      // A turn of the event loop between reads: the start message gets in.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  /** Stops reading ahead; then the lines read so far and the rest of the file. */
  async *all(): AsyncGenerator<EventLine[]> {
    this.stopped = true
    await this.reading
    yield* this.batches.splice(0)
    if (this.error !== undefined) throw this.error
    if (this.ended) return
    for (let r = await this.lines.next(); !r.done; r = await this.lines.next()) yield r.value
  }
}

/** The events read since the last batch was handed over (its loop a method of its own: docs/PERFORMANCE.md §1). */
class Collected {
  items: AcceptedEvent[] = []
  problems: string[] = []
  lines = 0

  constructor(
    private readonly sourceId: number,
    private readonly chunk: number
  ) {}

  /** Takes lines of `batch` from `from` until a chunk is full; returns where it stopped. */
  take(batch: EventLine[], from: number): number {
    let i = from
    for (; i < batch.length && this.items.length < this.chunk; i++) {
      const item = at(batch, i)
      this.lines++
      if (item.problem !== undefined) this.problems.push(item.problem)
      else this.items.push({ sourceId: this.sourceId, event: item.event, receivedAt: Date.now() })
    }
    return i
  }

  full(): boolean {
    return this.items.length >= this.chunk
  }
}

async function run(port: NonNullable<typeof parentPort>, data: RouteWorkerStart, ahead: ReadAhead | undefined): Promise<void> {
  const table = RoutingTable.fromSnapshot(data.snapshot)
  let credits = data.inFlight
  let wake: (() => void) | undefined
  port.on('message', () => {
    credits++
    wake?.()
  })
  let collected = new Collected(data.sourceId, data.chunk)
  const flush = async () => {
    while (credits === 0) await new Promise<void>((r) => (wake = r))
    credits--
    const { items, lines, problems } = collected
    collected = new Collected(data.sourceId, data.chunk)
    const batch = routeBatch(table, items)
    port.postMessage({ kind: 'batch', batch, lines, problems } satisfies RouteWorkerMessage, transferables(batch))
  }
  try {
    const read = ahead?.file === data.file ? ahead.all() : readEventBatches(data.file)
    for await (const batch of read) {
      for (let from = collected.take(batch, 0); collected.full(); from = collected.take(batch, from)) await flush()
    }
    if (collected.items.length > 0) await flush()
    port.postMessage({ kind: 'end', lines: collected.lines, problems: collected.problems } satisfies RouteWorkerMessage)
  } catch (e) {
    port.postMessage({ kind: 'end', lines: collected.lines, problems: collected.problems, error: (e as Error).message } satisfies RouteWorkerMessage)
  } finally {
    port.close()
  }
}

if (parentPort) {
  const port = parentPort
  const file = (workerData as RouteWorkerData | undefined)?.file
  const ahead = file !== undefined ? new ReadAhead(file) : undefined
  port.once('message', (start: RouteWorkerStart) => void run(port, start, ahead))
}
