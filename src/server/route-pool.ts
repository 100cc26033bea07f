/**
 * Route workers for `serve`: `/v1/batch` bodies are parsed, checked and routed on other cores
 * (route-pool-worker.ts), so the request thread spends its time on HTTP, commits and delivery. Each
 * worker holds the routing table as the request thread last loaded it: a changed configuration is
 * sent to every worker before the next body, so no body is routed with an older configuration than
 * the request thread would have used.
 *
 * TTA_ROUTE_WORKERS sets how many (default: one per core but one, at most 4; 0 routes in the
 * request thread). Audiences connected on the fly need TikTok calls mid-routing: while a destination
 * does that, bodies are routed in the request thread, as are requests whose write key is in the body.
 */
import type { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { RoutedBatch } from '../pipeline/route-batch.js'
import type { RoutingTable } from '../pipeline/routing-table.js'
import { startWorker } from '../util/worker.js'
import { IngestError } from './batch-body.js'
import type { RoutePoolReply, RoutePoolRequest } from './route-pool-worker.js'
import { first } from '../util/array.js'

interface Job {
  resolve: (batch: RoutedBatch) => void
  reject: (err: Error) => void
}

interface PoolWorker {
  worker: Worker
  pending: Map<number, Job>
}

export class RoutePool {
  private readonly workers: PoolWorker[] = []
  private nextId = 1
  private sentVersion = -1
  private started = false
  private closing = false

  constructor(
    private readonly table: RoutingTable,
    private readonly size: number,
    private readonly log?: Logger
  ) {}

  /**
   * Routes a `/v1/batch` body of `sourceId` (its bytes, as received) in a worker. Undefined when no
   * worker can (none configured or left, or audiences are being connected on the fly): route in
   * this thread then. Throws IngestError for a body that is refused.
   */
  async route(body: Uint8Array, sourceId: number, receivedAt: number): Promise<RoutedBatch | undefined> {
    await this.table.refreshForRouting()
    if (this.table.autoConnecting()) return undefined
    this.start()
    if (this.workers.length === 0) return undefined
    const snapshot = this.table.snapshot()
    if (snapshot.version !== this.sentVersion) {
      for (const w of this.workers) w.worker.postMessage({ kind: 'table', snapshot } satisfies RoutePoolRequest)
      this.sentVersion = snapshot.version
    }
    let target = first(this.workers)
    for (const w of this.workers) if (w.pending.size < target.pending.size) target = w
    const id = this.nextId++
    // A copy of its own moves to the worker (the received bytes may share their memory with other
    // buffers): a memcpy here instead of decoding the body to a string and cloning that.
    const bytes = new Uint8Array(body.byteLength)
    bytes.set(body)
    return new Promise<RoutedBatch>((resolve, reject) => {
      target.pending.set(id, { resolve, reject })
      target.worker.postMessage({ kind: 'batch', id, bytes, sourceId, receivedAt } satisfies RoutePoolRequest, [bytes.buffer])
    })
  }

  private start(): void {
    if (this.started) return
    this.started = true
    for (let i = 0; i < this.size; i++) {
      // A young generation of 24 MB (V8's default is 48 on 64 bits: two 16 MB semi-spaces and
      // room for large objects): a request body's garbage is a few MB, and each worker's unused
      // young generation is resident memory of serve (with 1,000,000 queued: 300 → 264 MB measured).
      const worker = startWorker(import.meta.url, './route-pool-worker', undefined, { resourceLimits: { maxYoungGenerationSizeMb: 24 } })
      const w: PoolWorker = { worker, pending: new Map() }
      // The HTTP server keeps the process alive while requests wait; an idle worker must not.
      w.worker.unref()
      w.worker.on('message', (reply: RoutePoolReply) => {
        const job = w.pending.get(reply.id)
        if (!job) return
        w.pending.delete(reply.id)
        if (reply.ok) job.resolve(reply.batch)
        else if (reply.status === 500) job.reject(new Error(`route worker: ${reply.message}`))
        else job.reject(new IngestError(reply.status, reply.message))
      })
      w.worker.on('error', (err) => this.log?.error({ err }, 'a route worker failed'))
      w.worker.on('exit', (code) => {
        // Its requests get a 500 (not stored: the sender retries); the others route without it.
        const i = this.workers.indexOf(w)
        if (i >= 0) this.workers.splice(i, 1)
        if (!this.closing) this.log?.error({ code }, `a route worker stopped; ${this.workers.length} left`)
        for (const job of w.pending.values()) job.reject(new Error(`the route worker stopped (exit code ${code})`))
        w.pending.clear()
      })
      this.workers.push(w)
    }
  }

  async close(): Promise<void> {
    this.closing = true
    const all = this.workers.splice(0)
    await Promise.all(all.map((w) => w.worker.terminate()))
  }
}
