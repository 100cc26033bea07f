/**
 * `send`'s route worker: reads the NDJSON file, checks and routes its events (mappings applied,
 * identifiers hashed) on a second core, and hands the main thread plain routed batches, which it
 * only has to commit and deliver. At most `inFlight` batches wait un-committed (memory stays flat).
 *
 * It is started before the main thread has loaded its own modules and the config (route-worker-start.ts),
 * so that its start-up overlaps theirs; what to read and how to route arrive in its first message
 * (`RouteWorkerStart`), every later message is a credit.
 */
import { parentPort } from 'node:worker_threads'
import { routeBatch, transferables, type AcceptedEvent, type RoutedBatch } from '../pipeline/route-batch.js'
import { RoutingTable, type RoutingSnapshot } from '../pipeline/routing-table.js'
import { readEventBatches } from './ndjson.js'

export interface RouteWorkerStart {
  kind: 'start'
  file: string
  sourceId: number
  snapshot: RoutingSnapshot
  chunk: number
  inFlight: number
}

export type RouteWorkerMessage =
  | { kind: 'batch'; batch: RoutedBatch; lines: number; problems: string[] }
  | { kind: 'end'; lines: number; problems: string[]; error?: string }

async function run(port: NonNullable<typeof parentPort>, data: RouteWorkerStart): Promise<void> {
  const table = RoutingTable.fromSnapshot(data.snapshot)
  let credits = data.inFlight
  let wake: (() => void) | undefined
  port.on('message', () => {
    credits++
    wake?.()
  })
  let items: AcceptedEvent[] = []
  let problems: string[] = []
  let lines = 0
  const flush = async () => {
    while (credits === 0) await new Promise<void>((r) => (wake = r))
    credits--
    const batch = routeBatch(table, items)
    port.postMessage({ kind: 'batch', batch, lines, problems } satisfies RouteWorkerMessage, transferables(batch))
    items = []
    problems = []
    lines = 0
  }
  try {
    for await (const batch of readEventBatches(data.file)) {
      for (const item of batch) {
        lines++
        if (item.problem !== undefined) problems.push(item.problem)
        else items.push({ sourceId: data.sourceId, event: item.event, receivedAt: Date.now() })
        if (items.length >= data.chunk) await flush()
      }
    }
    if (items.length > 0) await flush()
    port.postMessage({ kind: 'end', lines, problems } satisfies RouteWorkerMessage)
  } catch (e) {
    port.postMessage({ kind: 'end', lines, problems, error: (e as Error).message } satisfies RouteWorkerMessage)
  } finally {
    port.close()
  }
}

if (parentPort) {
  const port = parentPort
  port.once('message', (start: RouteWorkerStart) => void run(port, start))
}
