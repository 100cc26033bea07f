/**
 * The pipeline: ingest → route → queue → batch → deliver. Ingestion routes as it records (one
 * transaction, shared by the requests that arrive meanwhile); `concurrency` delivery loops per
 * process drain the queue; several processes on one PostgreSQL database share the work.
 */
import type { Logger } from 'pino'
import type { Store } from '../store/index.js'
import { countDeliverablePending, nextWakeAt } from '../store/sql/partitions.js'
import type { TikTokClient } from '../tiktok/client.js'
import { Deliverer, type DeliveryEvents, type DeliveryOptions } from './deliverer.js'
import { FilteredCounters } from './filtered.js'
import { QualityCounters } from './quality.js'
import { MAX_ROUTINGS, Router, type AcceptedEvent } from './router.js'
import { ConfigChangedError } from '../store/sql/ingest-postgres.js'
import type { RoutedBatch } from './route-batch.js'
import type { SegmentEvent } from './event.js'
import { AutoConnector } from './auto-connect.js'
import { RoutingTable } from './routing-table.js'
import { isDatabaseUnavailable } from '../store/errors.js'
import { GroupCommitQueue } from './group-commit.js'
import { DELIVERY_DEFAULTS } from '../util/defaults.js'

export interface PipelineOptions {
  windowMs: number
  concurrency: number
  /** At most this many events share one ingestion transaction. */
  groupCommitEvents: number
  /**
   * Ingestion transactions in flight at once on PostgreSQL (SQLite: always one). One: since a group commit is
   * one statement, overlapping them only made them contend (database CPU per event 19.1 µs with 4, 17.4 with 2,
   * 15.4 with 1, same events/s: npm run bench ingestion, 2026-12-04); group commit batches what waits meanwhile.
   */
  concurrentCommits: number
  /** How often idle loops look for work other processes queued. */
  pollMs: number
  delivery: DeliveryOptions
}

function positiveInt(v: string | undefined): number | undefined {
  const n = Number(v)
  return v && Number.isInteger(n) && n > 0 ? n : undefined
}

export const DEFAULT_PIPELINE_OPTIONS: PipelineOptions = {
  windowMs: DELIVERY_DEFAULTS.windowMs,
  concurrency: DELIVERY_DEFAULTS.concurrency,
  groupCommitEvents: 5000,
  concurrentCommits: 1,
  pollMs: 500,
  delivery: {
    rateLimit: DELIVERY_DEFAULTS.rateLimit,
    retryBaseMs: DELIVERY_DEFAULTS.retryBaseMs,
    retryMaxMs: DELIVERY_DEFAULTS.retryMaxMs,
    retryForMs: DELIVERY_DEFAULTS.retryForMs,
    // How long a claimed partition stays with its worker without news (TTA_LEASE_MS): a worker
    // that dies leaves a lease that expires after this long (SPEC §3.3 invariant 5).
    leaseMs: positiveInt(process.env.TTA_LEASE_MS) ?? 60_000,
    failOnAuth: false
  }
}

/** A request to ingest: events of one source not routed yet, or batches a route worker routed. */
interface IngestRequest {
  items?: AcceptedEvent[]
  routed?: RoutedBatch[]
  /** Routes `routed`'s events again (the configuration changed since): their commit then checks the version. */
  reroute?: () => Promise<RoutedBatch[]>
  size: number
}

/** A wake-up call with a timeout. */
class Signal {
  private waiters: { deadline: number; wake: (at: number) => void }[] = []
  notify(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f.wake(0)
  }
  /**
   * Work becomes ready at each of `times`: per time, one waiter that would sleep past it wakes then
   * instead (none when one wakes by then anyway). A commit woke every loop before, and each asked
   * the database for a partition that was not ready yet (2 queries per loop on every commit).
   */
  wakeBy(times: number[]): void {
    const taken = new Set<object>()
    for (const at of [...times].sort((a, b) => a - b)) {
      if (this.waiters.some((w) => !taken.has(w) && w.deadline <= at && taken.add(w))) continue
      let latest: (typeof this.waiters)[number] | undefined
      for (const w of this.waiters) if (!taken.has(w) && (!latest || w.deadline > latest.deadline)) latest = w
      if (!latest) return
      taken.add(latest)
      latest.wake(at)
    }
  }
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter = { deadline: Date.now() + Math.max(0, ms), wake: (at: number) => arm(at) }
      let t: NodeJS.Timeout | undefined
      const done = () => {
        clearTimeout(t)
        this.waiters = this.waiters.filter((w) => w !== waiter)
        resolve()
      }
      const arm = (at: number) => {
        clearTimeout(t)
        waiter.deadline = at
        const ms = at - Date.now()
        if (ms <= 0) done()
        else t = setTimeout(done, ms)
      }
      this.waiters.push(waiter)
      arm(waiter.deadline)
    })
  }
}

export class Pipeline {
  readonly table: RoutingTable
  readonly quality = new QualityCounters()
  readonly filtered = new FilteredCounters()
  readonly router: Router
  readonly deliverer: Deliverer
  private running = false
  private loops: Promise<void>[] = []
  // SQLite has one writer; PostgreSQL overlaps a few transactions (their network round trips).
  // Concurrent requests have no order between them, so concurrent commits keep every promise of
  // SPEC §3.3: a request acknowledged before the next one was sent commits before it.
  private readonly ingestion: GroupCommitQueue<IngestRequest>
  private readonly deliverSignal = new Signal()
  /** Set while delivery finds the database unreachable (logged once per outage). */
  private databaseDown = false

  constructor(
    readonly store: Store,
    tiktok: TikTokClient,
    readonly opts: PipelineOptions,
    private readonly log?: Logger,
    events: DeliveryEvents = {}
  ) {
    this.table = new RoutingTable(store)
    // PostgreSQL: a read of the configuration version per request cost a round trip; the commit checks it instead.
    this.table.checkedAtCommit = store.db.dialect === 'postgres'
    const onQueued = (readyAt: number[]) => this.deliverSignal.wakeBy(readyAt)
    this.router = new Router(
      store,
      this.table,
      this.quality,
      this.filtered,
      { windowMs: opts.windowMs, onQueued },
      new AutoConnector(store, this.table, tiktok, log)
    )
    this.deliverer = new Deliverer(store, this.table, tiktok, opts.delivery, events)
    this.ingestion = new GroupCommitQueue((group) => this.commitGroup(group), {
      maxSize: opts.groupCommitEvents,
      limit: () => (store.db.dialect === 'sqlite' ? 1 : opts.concurrentCommits)
    })
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.deliverer.stopping = false
    for (let i = 0; i < this.opts.concurrency; i++) this.loops.push(this.deliveryLoop())
  }

  async stop(): Promise<void> {
    this.running = false
    this.deliverer.stopping = true
    await this.ingestion.settled()
    this.deliverSignal.notify()
    await Promise.all(this.loops)
    this.loops = []
  }

  /**
   * Accepts events of one source: resolves after they are committed — recorded and routed into the
   * queue — with the number that were new. Requests arriving while a transaction runs share the
   * next one (group commit: one disk sync for many requests).
   */
  ingest(sourceId: number, events: SegmentEvent[], receivedAt = Date.now()): Promise<number> {
    if (events.length === 0) return Promise.resolve(0)
    return this.enqueue({ items: events.map((event) => ({ sourceId, event, receivedAt })), size: events.length })
  }

  /**
   * Accepts events routed elsewhere (a route worker, with this configuration), in order, in one
   * transaction: resolves once they are committed, with the number that were new.
   */
  ingestRouted(batches: RoutedBatch[], reroute?: () => Promise<RoutedBatch[]>): Promise<number> {
    let size = 0
    for (const b of batches) size += b.items.count
    if (size === 0) return Promise.resolve(0)
    return this.enqueue({ routed: batches, reroute, size })
  }

  private enqueue(entry: IngestRequest): Promise<number> {
    return this.ingestion.submit(entry, entry.size)
  }

  /** One ingestion transaction for a group of requests; requests not routed yet are routed together (one configuration check, one auto-connect pass). */
  private async commitGroup(group: IngestRequest[]): Promise<boolean[]> {
    // Every request can be routed again: the commit checks the configuration they were routed with.
    const checkVersion = group.every((g) => g.items !== undefined || g.reroute !== undefined)
    for (let attempt = 1; ; attempt++) {
      const batches = await this.routeGroup(group)
      try {
        // The router wakes delivery for what it queued (onQueued), when it is ready.
        return await this.router.commit(batches, checkVersion)
      } catch (err) {
        if (!(err instanceof ConfigChangedError) || attempt >= MAX_ROUTINGS) throw err
        await this.table.refresh()
        for (const g of group) if (g.reroute) g.routed = await g.reroute()
      }
    }
  }

  /** A group's batches, in order; requests not routed yet are routed together. */
  private async routeGroup(group: IngestRequest[]): Promise<RoutedBatch[]> {
    const batches: RoutedBatch[] = []
    let unrouted: AcceptedEvent[] = []
    for (const g of group) {
      if (g.items) {
        unrouted = unrouted.length === 0 ? g.items : unrouted.concat(g.items)
        continue
      }
      if (unrouted.length > 0) batches.push(await this.router.route(unrouted))
      unrouted = []
      batches.push(...(g.routed ?? []))
    }
    if (unrouted.length > 0) batches.push(await this.router.route(unrouted))
    return batches
  }

  /** Sends partial batches at once instead of waiting for their window (end of a one-shot input). */
  flushAll(on = true): void {
    this.deliverer.flushAll = on
    this.deliverSignal.notify()
  }

  /** Wakes the loops (configuration changed, a destination resumed, …). */
  poke(): void {
    this.deliverSignal.notify()
  }

  /** Resolves once nothing is left to route and no deliverable change is pending. */
  async whenIdle(checkEveryMs = 50): Promise<void> {
    for (;;) {
      if (!this.ingestion.busy && (await countDeliverablePending(this.store.db)) === 0) return
      await new Promise((r) => setTimeout(r, checkEveryMs))
    }
  }

  /** A delivery turn reached the database: the outage (if any) is over. */
  private databaseBack(): void {
    if (!this.databaseDown) return
    this.databaseDown = false
    this.log?.warn('database reachable again: delivery resumes')
  }

  private async deliveryLoop(): Promise<void> {
    let dbWaitMs = 0
    while (this.running) {
      try {
        const worked = await this.deliverer.runOnce()
        dbWaitMs = 0
        this.databaseBack()
        if (worked) continue
      } catch (err) {
        if (isDatabaseUnavailable(err)) {
          // Nothing is settled while the database is away: wait (up to 5 s between tries) and retry.
          if (!this.databaseDown) this.log?.warn({ err: (err as Error).message }, 'database unavailable: delivery waits and retries')
          this.databaseDown = true
          dbWaitMs = Math.min(Math.max(dbWaitMs * 2, 250), 5000)
          await this.deliverSignal.wait(dbWaitMs)
          continue
        }
        this.log?.error({ err }, 'delivery failed; retrying')
        await this.deliverSignal.wait(1000)
        continue
      }
      let wait = this.opts.pollMs
      const at = await nextWakeAt(this.store.db).catch(() => undefined)
      if (at !== undefined) wait = Math.min(wait, Math.max(5, at - Date.now()))
      await this.deliverSignal.wait(wait)
    }
  }
}
