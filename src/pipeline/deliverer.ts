/**
 * A delivery worker: claims a ready partition, sends its changes to TikTok batch by batch in
 * order, and settles each request by what TikTok answered (SPEC §3.3): classifyExchange decides the
 * outcome (delivery-outcome.ts), one store function per outcome records it (store/sql/settle-*.ts).
 */
import { randomUUID } from 'node:crypto'
import { buildCreateAudienceBody, mappingBodyOf, mappingBodyOfItemsInSlices } from '../destination/request-bodies.js'
import type { Store } from '../store/index.js'
import type { Destination } from '../store/model.js'
import { failedIdentities } from '../store/sql/changes.js'
import { CREATE_KEY, parseBatchKey, parsePartitionKey } from '../store/queue-format.js'
import { OpenQueue } from './open-queue.js'
import { claimPartition, releasePartition, type PartitionLease } from '../store/sql/partitions.js'
import type { RequestRecord } from '../store/sql/requests.js'
import { settleDelivered } from '../store/sql/settle-delivered.js'
import { settleFailed } from '../store/sql/settle-failed.js'
import { settlePaused } from '../store/sql/settle-paused.js'
import { settleRetry } from '../store/sql/settle-retry.js'
import type { TikTokClient } from '../tiktok/client.js'
import type { TikTokExchange } from '../tiktok/types.js'
import { TikTokError } from '../tiktok/errors.js'
import type { IdType, SegmentMappingBody } from '../tiktok/types.js'
import { planBatch, type BatchPlan } from './batch-plan.js'
import { classifyExchange, type RetryPolicy, type RetryState } from './delivery-outcome.js'
import { RateLimiter } from './rate-limiter.js'
import type { RoutingTable } from './routing-table.js'
import { first } from '../util/array.js'
import { must } from '../util/must.js'

export interface DeliveryOptions extends RetryPolicy {
  rateLimit: number
  leaseMs: number
}

export interface DeliveryEvents {
  onRequest?: (r: RequestRecord) => void
}

const SAMPLE_ROWS = 3
/** Rows of a request body written per turn of the event loop (~1 ms of work). */
const BODY_SLICE_ROWS = 1000
/** One turn of the event loop: what waits for this thread (requests, commits) goes first. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

export class Deliverer {
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`
  private readonly limiter: RateLimiter
  /** Set once input is complete: partial batches go out without waiting for their window. */
  flushAll = false
  /** Claims so far: each claim has an owner token of its own (see runOnce). */
  private claims = 0
  /**
   * Leases this worker could not give back (the database went away mid-drain): given back first
   * once it answers again, rather than leaving their partitions idle until the lease expires.
   */
  private readonly leasesToRelease: HeldLease[] = []
  /**
   * Set on shutdown: a drain gives its partition back after the request in flight instead of
   * working through the whole backlog (SIGTERM must end in bounded time; the rest stays queued).
   */
  stopping = false

  constructor(
    private readonly store: Store,
    private readonly table: RoutingTable,
    private readonly tiktok: TikTokClient,
    private readonly opts: DeliveryOptions,
    private readonly events: DeliveryEvents = {}
  ) {
    this.limiter = new RateLimiter(opts.rateLimit)
  }

  /**
   * Claims one ready partition and drains it; false when nothing was ready. The lease's owner is
   * this worker and the claim, so that giving back a lease late (after an outage) cannot give back
   * the same partition claimed again meanwhile by another loop of this worker.
   */
  async runOnce(): Promise<boolean> {
    while (this.leasesToRelease.length > 0) {
      const stale = must(this.leasesToRelease.shift(), 'a lease to release')
      await releasePartition(this.store.db, stale.id, stale.owner).catch((err: unknown) => {
        this.leasesToRelease.push(stale)
        throw err
      })
    }
    const owner = `${this.owner}-${++this.claims}`
    const claimed = await claimPartition(this.store.db, owner, Date.now(), this.opts.leaseMs, this.flushAll)
    if (!claimed) return false
    const lease: HeldLease = { ...claimed, owner }
    try {
      await this.drain(lease)
    } catch (err) {
      // What was sent but not settled stays queued and is sent again: TikTok's adds and removes are idempotent.
      await releasePartition(this.store.db, lease.id, lease.owner).catch(() => this.leasesToRelease.push(lease))
      throw err
    }
    return true
  }

  private async drain(lease: HeldLease): Promise<void> {
    await this.table.refresh()
    let retry: RetryState = { attempts: lease.attempts, firstFailureAt: lease.first_failure_at }
    const queue = new OpenQueue(this.store.db, lease.id)
    let deadLetters = await failedIdentities(this.store.db, lease.id)
    // The next request, prepared while TikTok handled the previous one (see `prepareAhead`).
    let ahead: PreparedRequest | undefined
    for (;;) {
      const routed = this.table.destination(lease.destination_id)
      if (this.stopping || !routed || routed.destination.status !== 'active' || !routed.destination.enabled) {
        await releasePartition(this.store.db, lease.id, lease.owner)
        return
      }
      const dest = routed.destination
      // The request planned ahead, unless the configuration changed meanwhile.
      const prepared = (ahead?.dest === dest ? ahead : undefined) ?? (await planRequest(queue, lease.key, dest))
      ahead = undefined
      if (!prepared) {
        await releasePartition(this.store.db, lease.id, lease.owner)
        return
      }
      const { plan } = prepared
      queue.hold(plan.send, plan.superseded)
      const client = this.tiktok.withToken(dest.accessToken ?? undefined)
      await this.limiter.take()
      const sentAt = Date.now()
      let exchange: TikTokExchange | undefined
      let failure: TikTokError | undefined
      try {
        if (plan.batchKey === CREATE_KEY) {
          const p = JSON.parse(first(plan.send).payload ?? '{}') as { advertiserId: string; name: string }
          const r = await client.createAudience(buildCreateAudienceBody({ kind: 'create', advertiserId: p.advertiserId, name: p.name }))
          exchange = r.exchange
        } else {
          const answer = client.segmentMapping(must(prepared.mapping, 'the prepared mapping body'))
          // Awaited before anything else: a rejection must find its handler (no await in between).
          const next = this.prepareAhead(queue, lease.key, dest)
          try {
            exchange = await answer
          } finally {
            ahead = await next
          }
        }
      } catch (err) {
        if (!(err instanceof TikTokError)) throw err
        failure = err
        exchange = err.details.exchange
      }
      const record = requestRecord(dest.id, lease.id, plan, sentAt, exchange, failure)
      const now = Date.now()
      const advertisers = failure ? requestAdvertisers(lease.key, plan) : []
      const outcome = classifyExchange({ failure, advertisers, destinationAdvertisers: dest.advertiserIds, state: retry, now }, this.opts)
      const partition = { id: lease.id, owner: lease.owner }
      const db = this.store.db
      switch (outcome.kind) {
        case 'delivered': {
          const { send, superseded } = plan
          const stillOurs = await settleDelivered(db, {
            partition,
            destinationId: dest.id,
            request: record,
            send,
            superseded,
            deadLetters,
            now,
            leaseMs: this.opts.leaseMs
          })
          queue.settled(send, superseded)
          this.events.onRequest?.({ ...record, outcome: 'delivered' })
          // The lease expired during the request and another worker took the partition: stop here.
          if (!stillOurs) return
          retry = outcome.next
          continue
        }
        case 'retry': {
          const { retryAt, attempts, firstFailureAt, reason, errorCode } = outcome
          await settleRetry(db, {
            partition,
            destinationId: dest.id,
            request: record,
            sent: plan.send.length,
            now,
            retryAt,
            attempts,
            firstFailureAt,
            reason,
            errorCode
          })
          this.events.onRequest?.({ ...record, outcome: 'retry' })
          return
        }
        case 'paused':
          await settlePaused(db, { partition, destinationId: dest.id, request: record, reason: outcome.reason })
          this.events.onRequest?.({ ...record, outcome: 'paused' })
          await this.table.refresh(true)
          return
        case 'failed': {
          const { reason, errorCode, attempts } = outcome
          const changes = [...plan.send, ...plan.superseded]
          const stillOurs = await settleFailed(db, {
            partition,
            destinationId: lease.destination_id,
            request: record,
            changes,
            reason,
            errorCode,
            attempts,
            now: Date.now(),
            leaseMs: this.opts.leaseMs
          })
          this.events.onRequest?.({ ...record, outcome: 'failed' })
          if (!stillOurs) return
          queue.settled(plan.send, plan.superseded)
          deadLetters = await failedIdentities(db, lease.id)
          retry = outcome.next
          continue
        }
        default:
          throw new Error(`unhandled delivery outcome ${JSON.stringify(outcome satisfies never)}`)
      }
    }
  }

  /**
   * The request after the one in flight, planned and written while TikTok handles that one, so that
   * the partition's requests follow each other without our planning between them (one partition is
   * sent one request at a time, in order). Only a full batch, or any batch once input is complete
   * (`flushAll`): a partial one is planned after the answer, with what was queued meanwhile. It
   * assumes the request in flight succeeds; if not, the drain stops (retry, pause) or settles that
   * request's changes as failed, and the plan still holds. Never throws: without it the next
   * request is planned as usual.
   */
  private async prepareAhead(queue: OpenQueue, partitionKey: string, dest: Destination): Promise<PreparedRequest | undefined> {
    try {
      // One turn of the event loop first: the request in flight gets written out before this work.
      await nextTurn()
      const next = await planRequest(queue, partitionKey, dest)
      return next && (next.plan.send.length >= dest.batchSize || this.flushAll) ? next : undefined
    } catch {
      return undefined
    }
  }
}

/** A claimed partition and the owner token it was claimed with. */
type HeldLease = PartitionLease & { owner: string }

/** A planned request and its body (membership changes), for the destination as configured when it was planned. */
interface PreparedRequest {
  plan: BatchPlan
  dest: Destination
  mapping?: Awaited<ReturnType<typeof mappingBody>>
}

/**
 * The next request of the partition from its open changes (none left: undefined). A plan looks at
 * twice a batch, so that a change superseded a batch later is not sent.
 */
async function planRequest(queue: OpenQueue, partitionKey: string, dest: Destination): Promise<PreparedRequest | undefined> {
  const rows = await queue.read(Math.max(dest.batchSize * 2, 1000))
  if (rows.length === 0) return undefined
  const plan = planBatch(rows, dest.batchSize)
  return { plan, dest, mapping: plan.batchKey === CREATE_KEY ? undefined : await mappingBody(plan, partitionKey) }
}

/** The request's JSON body (bytes), and what its exchange shows: the same body cut to its first rows. */
async function mappingBody(plan: BatchPlan, partitionKey: string): Promise<{ text: Buffer; shown: SegmentMappingBody & { batch_data_more_rows?: number } }> {
  const { advertiserIds, audienceId } = parsePartitionKey(partitionKey)
  const kind = parseBatchKey(plan.batchKey)
  if (kind.action === 'create') throw new Error('an audience creation has no mapping body')
  const request = { action: kind.action, advertiserIds, audienceId, idSchema: kind.idSchema as IdType[] }
  const shown: SegmentMappingBody & { batch_data_more_rows?: number } = mappingBodyOf(
    request,
    plan.send.slice(0, SAMPLE_ROWS).map((c) => c.ids ?? [])
  )
  if (plan.send.length > SAMPLE_ROWS) shown.batch_data_more_rows = plan.send.length - SAMPLE_ROWS
  return {
    text: await mappingBodyOfItemsInSlices(
      request,
      plan.send.map((c) => c.serializedIds),
      BODY_SLICE_ROWS,
      nextTurn
    ),
    shown
  }
}

/** The advertisers a request was for: the partition's, or a Create Audience change's own. */
function requestAdvertisers(partitionKey: string, plan: BatchPlan): string[] {
  if (plan.batchKey !== CREATE_KEY) return parsePartitionKey(partitionKey).advertiserIds
  const payload = JSON.parse(plan.send[0]?.payload ?? '{}') as { advertiserId?: string }
  return payload.advertiserId ? [payload.advertiserId] : []
}

function requestRecord(
  destinationId: number,
  partitionId: number,
  plan: BatchPlan,
  sentAt: number,
  exchange: TikTokExchange | undefined,
  failure: TikTokError | undefined
): RequestRecord {
  const response = exchange?.response
  const envelope = typeof response === 'object' ? response : undefined
  return {
    destinationId,
    partitionId,
    kind: plan.batchKey === CREATE_KEY ? 'create_audience' : 'mapping',
    sentAt,
    durationMs: exchange?.durationMs ?? 0,
    httpStatus: exchange?.httpStatus || failure?.details.httpStatus || null,
    code: envelope?.code ?? failure?.code ?? null,
    message: envelope?.message ?? failure?.message ?? null,
    tiktokRequestId: envelope?.request_id ?? null,
    rowCount: plan.send.length,
    outcome: 'delivered',
    requestSample: sampleRequest(exchange),
    response: typeof response === 'string' ? response : JSON.stringify(response ?? null)
  }
}

/** The request as sent, with `batch_data` cut to its first rows (a full one is megabytes; mapping bodies come cut already). */
function sampleRequest(exchange: TikTokExchange | undefined): string {
  if (!exchange) return ''
  const body = exchange.request.body as { batch_data?: unknown[] } | undefined
  if (body && Array.isArray(body.batch_data) && body.batch_data.length > SAMPLE_ROWS) {
    const more = body.batch_data.length - SAMPLE_ROWS
    return JSON.stringify({
      method: exchange.request.method,
      url: exchange.request.url,
      body: { ...body, batch_data: body.batch_data.slice(0, SAMPLE_ROWS), batch_data_more_rows: more }
    })
  }
  return JSON.stringify({ method: exchange.request.method, url: exchange.request.url, body })
}
