/**
 * A route worker of `serve`: parses and checks `/v1/batch` bodies and routes their events with the
 * configuration the request thread last sent (mappings applied, identifiers hashed), so the
 * request thread only authenticates, commits and answers. See route-pool.ts.
 */
import { parentPort } from 'node:worker_threads'
import { routeBatch, transferables, type RoutedBatch } from '../pipeline/route-batch.js'
import { RoutingTable, type RoutingSnapshot } from '../pipeline/routing-table.js'
import { asIngestError, batchFromBytes } from './batch-body.js'

export type RoutePoolRequest =
  { kind: 'table'; snapshot: RoutingSnapshot } | { kind: 'batch'; id: number; bytes: Uint8Array; sourceId: number; receivedAt: number }

export type RoutePoolReply =
  | { id: number; ok: true; batch: RoutedBatch }
  | { id: number; ok: false; status: 400 | 401 | 413; message: string }
  | { id: number; ok: false; status: 500; message: string }

function serve(port: NonNullable<typeof parentPort>): void {
  let table: RoutingTable | undefined
  port.on('message', (m: RoutePoolRequest) => {
    if (m.kind === 'table') {
      table = RoutingTable.fromSnapshot(m.snapshot)
      return
    }
    let reply: RoutePoolReply
    try {
      if (!table) throw new Error('no routing table received before the first batch')
      const events = batchFromBytes(m.bytes, new Date(m.receivedAt).toISOString())
      const batch = routeBatch(
        table,
        events.map((event) => ({ sourceId: m.sourceId, event, receivedAt: m.receivedAt }))
      )
      port.postMessage({ id: m.id, ok: true, batch } satisfies RoutePoolReply, transferables(batch))
      return
    } catch (err) {
      const refused = asIngestError(err)
      reply = refused
        ? { id: m.id, ok: false, status: refused.status, message: refused.message }
        : { id: m.id, ok: false, status: 500, message: (err as Error).stack ?? String(err) }
    }
    port.postMessage(reply)
  })
}

if (parentPort) serve(parentPort)
