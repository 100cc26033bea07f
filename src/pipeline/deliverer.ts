/**
 * A delivery worker: claims a ready partition, sends its changes to TikTok batch by batch in
 * order, and settles them by what TikTok answered (SPEC §3.3):
 *   success → delivered · throttle/transient → partition retried with backoff (head of line)
 *   auth → destination paused (queue kept) · permanent → failed with TikTok's reason (dead letter)
 */
import { randomUUID } from 'node:crypto'
import { buildCreateAudienceBody, mappingBodyOf, mappingBodyOfItemsInSlices } from '../destination/requestBodies.js'
import type { Store } from '../store/index.js'
import type { Destination } from '../store/model.js'
import { setDestinationStatus } from '../store/sql/config.js'
import { failedIdentities, insertChanges, resolveFailed, type NewChange } from '../store/sql/changes.js'
import { actionOf, identityOfTail, settlePositions } from '../store/sql/queue-packs.js'
import { OpenQueue } from './open-queue.js'
import {
  claimPartition,
  deferPartition,
  releaseAfterSuccess,
  releasePartition,
  subtractPending,
  type PartitionLease
} from '../store/sql/partitions.js'
import { insertRequest, type RequestRecord } from '../store/sql/requests.js'
import { addTotals } from '../store/sql/outcome-totals.js'
import type { TikTokClient, TikTokExchange } from '../tiktok/client.js'
import { TikTokError } from '../tiktok/errors.js'
import type { SegmentMappingBody } from '../tiktok/types.js'
import { parseBatchKey, parsePartitionKey } from './route-event.js'
import { planBatch, type BatchPlan } from './batch-plan.js'
import type { Db } from '../store/db.js'
import { RateLimiter, backoffMs } from './rate-limiter.js'
import type { RoutingTable } from './routing-table.js'

export interface DeliveryOptions {
  rateLimit: number
  retryBaseMs: number
  retryMaxMs: number
  retryForMs: number
  leaseMs: number
  /** One-shot runs (`send`): an auth failure fails the changes instead of pausing the destination. */
  failOnAuth: boolean
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

  /** Claims one ready partition and drains it; false when nothing was ready. */
  async runOnce(): Promise<boolean> {
    const lease = await claimPartition(this.store.db, this.owner, Date.now(), this.opts.leaseMs, this.flushAll)
    if (!lease) return false
    try {
      await this.drain(lease)
    } catch (err) {
      await releasePartition(this.store.db, lease.id, this.owner).catch(() => undefined)
      throw err
    }
    return true
  }

  private async drain(lease: PartitionLease): Promise<void> {
    await this.table.refresh()
    let attempts = lease.attempts
    let firstFailureAt = lease.first_failure_at
    const queue = new OpenQueue(this.store.db, lease.id)
    let deadLetters = await failedIdentities(this.store.db, lease.id)
    // The next request, prepared while TikTok handled the previous one (see `prepareAhead`).
    let ahead: PreparedRequest | undefined
    for (;;) {
      const routed = this.table.destination(lease.destination_id)
      if (this.stopping || !routed || routed.destination.status !== 'active' || !routed.destination.enabled) {
        await releasePartition(this.store.db, lease.id, this.owner)
        return
      }
      const dest = routed.destination
      // The request planned ahead, unless the configuration changed meanwhile.
      const prepared = (ahead?.dest === dest ? ahead : undefined) ?? (await planRequest(queue, lease.key, dest))
      ahead = undefined
      if (!prepared) {
        await releasePartition(this.store.db, lease.id, this.owner)
        return
      }
      const { plan } = prepared
      queue.hold(plan.send, plan.superseded)
      const client = this.tiktok.withToken(dest.accessToken ?? undefined)
      await this.limiter.take()
      const sentAt = Date.now()
      let exchange: TikTokExchange | undefined
      let failure: TikTokError | undefined
      let createdAudienceId: string | undefined
      try {
        if (plan.batchKey === 'create') {
          const p = JSON.parse(plan.send[0].payload ?? '{}') as { advertiserId: string; name: string }
          const r = await client.createAudience(buildCreateAudienceBody({ kind: 'create', advertiserId: p.advertiserId, name: p.name }))
          exchange = r.exchange
          createdAudienceId = r.data.audience_id
        } else {
          const answer = client.segmentMapping(prepared.mapping!)
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

      if (!failure) {
        const stillOurs = await this.store.db.tx(async (db) => {
          const ref = await insertRequest(db, { ...record, outcome: 'delivered' })
          const delivered = (await settlePositions(db, plan.send)).length
          const superseded = (await settlePositions(db, plan.superseded)).length
          await subtractPending(db, lease.id, delivered + superseded)
          await addTotals(db, [{ scope: 'destination', scopeId: dest.id, delivered, superseded }], now)
          if (deadLetters.size > 0) await resolveDeadLetters(db, deadLetters, plan, ref)
          return releaseAfterSuccess(db, lease.id, this.owner, now, now + this.opts.leaseMs)
        })
        queue.settled(plan.send, plan.superseded)
        this.events.onRequest?.({ ...record, outcome: 'delivered' })
        // The lease expired during the request and another worker took the partition: stop here.
        if (!stillOurs) return
        attempts = 0
        firstFailureAt = null
        continue
      }

      const reason = failure.code !== undefined ? `TikTok ${failure.code}: ${failure.message}` : failure.message
      if (failure.retryable) {
        attempts++
        firstFailureAt ??= now
        if (now - firstFailureAt <= this.opts.retryForMs) {
          const retryAt = now + backoffMs(attempts, this.opts.retryBaseMs, this.opts.retryMaxMs)
          await this.store.db.tx(async (db) => {
            await insertRequest(db, { ...record, outcome: 'retry' })
            await addTotals(db, [{ scope: 'destination', scopeId: dest.id, retried: plan.send.length }], now)
            await deferPartition(db, lease.id, this.owner, retryAt, attempts, firstFailureAt!, reason, failure!.code !== undefined ? String(failure!.code) : failure!.kind)
          })
          this.events.onRequest?.({ ...record, outcome: 'retry' })
          return
        }
        if (!(await this.failBatch(lease, plan, record, `gave up after retrying for ${Math.round((now - firstFailureAt) / 1000)} s: ${reason}`, failure, attempts))) return
        queue.settled(plan.send, plan.superseded)
        deadLetters = await failedIdentities(this.store.db, lease.id)
        attempts = 0
        firstFailureAt = null
        continue
      }
      if (failure.kind === 'auth' && !this.opts.failOnAuth) {
        await this.store.db.tx(async (db) => {
          await insertRequest(db, { ...record, outcome: 'paused' })
          await setDestinationStatus(db, dest.id, 'paused', `TikTok rejected the access token (${reason}). Re-authorise TikTok in Settings; queued changes are kept and resume afterwards.`)
          await releasePartition(db, lease.id, this.owner)
        })
        this.events.onRequest?.({ ...record, outcome: 'paused' })
        await this.table.refresh(true)
        return
      }
      if (!(await this.failBatch(lease, plan, record, reason, failure, attempts + 1))) return
      queue.settled(plan.send, plan.superseded)
      deadLetters = await failedIdentities(this.store.db, lease.id)
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

  /** Settles a batch as failed: its changes become dead letters. False when the partition's lease was lost meanwhile. */
  private async failBatch(lease: PartitionLease, plan: BatchPlan, record: RequestRecord, reason: string, failure: TikTokError, attempts: number): Promise<boolean> {
    const now = Date.now()
    const stillOurs = await this.store.db.tx(async (db) => {
      const ref = await insertRequest(db, { ...record, outcome: 'failed' })
      const code = failure.code !== undefined ? String(failure.code) : failure.kind.toUpperCase()
      const settled = await settlePositions(db, [...plan.send, ...plan.superseded])
      const dead: NewChange[] = settled.map((c) => ({
        eventId: c.eventId,
        destinationId: lease.destination_id,
        mappingId: c.mappingId,
        partitionId: lease.id,
        action: actionOf(c.batchKey),
        batchKey: c.batchKey,
        ids: c.batchKey === 'create' ? null : JSON.stringify(c.ids),
        payload: c.payload,
        status: 'failed',
        error: reason,
        errorCode: code,
        createdAt: c.createdAt,
        requestRef: ref,
        doneAt: now,
        attempts
      }))
      await insertChanges(db, dead)
      await subtractPending(db, lease.id, settled.length)
      await addTotals(db, [{ scope: 'destination', scopeId: lease.destination_id, failed: settled.length }], now)
      return releaseAfterSuccess(db, lease.id, this.owner, now, now + this.opts.leaseMs)
    })
    this.events.onRequest?.({ ...record, outcome: 'failed' })
    return stillOurs
  }
}

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
  return { plan, dest, mapping: plan.batchKey === 'create' ? undefined : await mappingBody(plan, partitionKey) }
}

/** Dead letters of the partition whose identifiers a delivered change just set again: replay would undo that. */
async function resolveDeadLetters(db: Db, deadLetters: Map<string, number[]>, plan: BatchPlan, requestRef: number): Promise<void> {
  for (const c of plan.send) {
    if (c.batchKey === 'create') continue
    const identity = identityOfTail(c.batchKey, c.tail)
    const ids = deadLetters.get(identity)
    if (!ids) continue
    deadLetters.delete(identity)
    await resolveFailed(db, ids, `a later ${actionOf(c.batchKey)} of the same identifiers was delivered (request #${requestRef})`)
  }
}

/** The request's JSON body (bytes), and what its exchange shows: the same body cut to its first rows. */
async function mappingBody(plan: BatchPlan, partitionKey: string): Promise<{ text: Buffer; shown: SegmentMappingBody & { batch_data_more_rows?: number } }> {
  const { advertiserIds, audienceId } = parsePartitionKey(partitionKey)
  const { action, idSchema } = parseBatchKey(plan.batchKey)
  const request = { action, advertiserIds, audienceId, idSchema }
  const shown: SegmentMappingBody & { batch_data_more_rows?: number } = mappingBodyOf(request, plan.send.slice(0, SAMPLE_ROWS).map((c) => c.ids ?? []))
  if (plan.send.length > SAMPLE_ROWS) shown.batch_data_more_rows = plan.send.length - SAMPLE_ROWS
  return { text: await mappingBodyOfItemsInSlices(request, plan.send.map((c) => c.tail), BODY_SLICE_ROWS, nextTurn), shown }
}

function requestRecord(destinationId: number, partitionId: number, plan: BatchPlan, sentAt: number, exchange: TikTokExchange | undefined, failure: TikTokError | undefined): RequestRecord {
  const response = exchange?.response
  const envelope = typeof response === 'object' ? response : undefined
  return {
    destinationId,
    partitionId,
    kind: plan.batchKey === 'create' ? 'create_audience' : 'mapping',
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
    return JSON.stringify({ method: exchange.request.method, url: exchange.request.url, body: { ...body, batch_data: body.batch_data.slice(0, SAMPLE_ROWS), batch_data_more_rows: more } })
  }
  return JSON.stringify({ method: exchange.request.method, url: exchange.request.url, body })
}
