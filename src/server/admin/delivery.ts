/**
 * Event Delivery of a destination: delivered / failed / pending / retrying / filtered over time, P95 TikTok
 * latency, errors by reason with samples (the event received, the request, the response), and the
 * dead-letter list with replay.
 */
import type { FastifyPluginAsync } from 'fastify'
import {
  changeSample,
  requestSample,
  deliveryBuckets,
  errorGroups,
  listDeadLetters,
  p95LatencyMs,
  replayDeadLetters,
  retriedReasons,
  retryingNow
} from '../../store/sql/admin-delivery.js'
import { dropTotals } from '../../store/sql/identifier-drops.js'
import type { FilterReason } from '../../pipeline/route-event.js'
import type { ServerContext } from '../context.js'
import { badRequest } from './errors.js'
import { destinationOr404 } from './lookup.js'
import { S, typed } from './validation.js'

const MAX_BUCKETS = 1000

/** What each filter reason (route-event.ts FilterReason) means, for a person. */
const FILTER_DESCRIPTIONS: Record<FilterReason, string> = {
  audience_not_connected: 'the event is about an audience that is not connected to this destination',
  integrations: "the event's integrations object keeps it from this destination",
  send_track_off: 'a track call of an audience whose connection has "Send Track" off',
  send_identify_off: 'an identify call of an audience whose connection has "Send Identify" off',
  consent_withdrawn: "the event withdraws the destination's consent category (no add sent; the person is removed from its audiences)"
}
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }

/** Epoch ms or an ISO date. */
function parseTime(value: string | undefined, field: string, fallback: number): number {
  if (value === undefined || value === '') return fallback
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (Number.isNaN(t)) throw badRequest(`"${field}" must be epoch milliseconds or an ISO date, got ${JSON.stringify(value)}`, field)
  return t
}

/** Milliseconds, or a duration such as `30s`, `5m`, `1h`, `1d`. */
function parseDuration(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value)
  const ms = m ? Number(m[1]) * (m[2] && m[2] !== 'ms' ? (UNITS[m[2]] ?? NaN) : 1) : NaN
  if (!(ms > 0)) throw badRequest(`"bucket" must be milliseconds or a duration like 5m, 1h, 1d, got ${JSON.stringify(value)}`, 'bucket')
  return ms
}

const parseJson = (s: string | null): unknown => {
  if (s === null || s === '') return null
  try {
    return JSON.parse(s)
  } catch {
    return s
  }
}

export const deliveryRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (fastify, { ctx }) => {
  const app = typed(fastify)
  const { db } = ctx.store

  app.get(
    '/destinations/:id/delivery',
    { schema: { params: S.idParams, querystring: S.obj({ from: S.str(), to: S.str(), bucket: S.str() }) } },
    async (request) => {
      const d = await destinationOr404(ctx, request.params.id)
      const to = parseTime(request.query.to, 'to', Date.now() + 1)
      const from = parseTime(request.query.from, 'from', to - 24 * 3600_000)
      if (from >= to) throw badRequest('"from" must be before "to"', 'from')
      const bucket = parseDuration(request.query.bucket, 3600_000)
      if ((to - from) / bucket > MAX_BUCKETS) throw badRequest(`"bucket" is too small for this range: at most ${MAX_BUCKETS} buckets`, 'bucket')
      const [{ buckets, filteredByReason }, latency, groups, dropped, retried, retrying] = await Promise.all([
        deliveryBuckets(db, d.id, from, to, bucket),
        p95LatencyMs(db, d.id, from, to),
        errorGroups(db, d.id, from, to),
        dropTotals(db, d.id, from, to),
        retriedReasons(db, d.id, from, to),
        retryingNow(db, d.id)
      ])
      // delivered, failed, retried: over the period; pending and retrying: now.
      const totals = buckets.reduce(
        (t, b) => ({
          ...t,
          delivered: t.delivered + b.delivered,
          failed: t.failed + b.failed,
          pending: t.pending + b.pending,
          retried: t.retried + b.retried,
          filtered: t.filtered + b.filtered
        }),
        { delivered: 0, failed: 0, pending: 0, retrying, retried: 0, filtered: 0 }
      )
      // Why events were not for this destination: each reason once, most frequent first.
      const filtered = Object.entries(filteredByReason)
        .sort((a, b) => b[1] - a[1])
        .map(([reason, count]) => ({ reason, count, description: FILTER_DESCRIPTIONS[reason as FilterReason] ?? reason }))
      const errors = await Promise.all(
        groups.map(async (g) => {
          const s =
            g.sampleChangeId !== null
              ? await changeSample(db, g.sampleChangeId)
              : g.sampleRequestId !== null
                ? await requestSample(db, g.sampleRequestId)
                : undefined
          return {
            reason: g.error,
            errorCode: g.errorCode,
            status: g.status === 'pending' ? 'retrying' : 'failed',
            count: g.count,
            lastAt: g.lastAt,
            sample: {
              changeId: g.sampleChangeId,
              // Raw events are dropped once routed (no raw identifiers kept), except those that failed routing.
              received: parseJson(s?.event ?? null),
              request: parseJson(s?.request ?? null),
              response: s?.response === undefined || s.response === null ? null : { httpStatus: s.httpStatus, body: parseJson(s.response) }
            }
          }
        })
      )
      return {
        destinationId: d.id,
        status: d.status,
        statusReason: d.statusReason,
        from,
        to,
        bucketMs: bucket,
        totals,
        p95LatencyMs: latency.p95,
        requests: latency.requests,
        buckets,
        filtered,
        errors,
        // Values a mapping had but did not send (rejected, whitespace only), also of delivered events.
        identifiersDropped: dropped,
        retried
      }
    }
  )

  app.get(
    '/destinations/:id/dead-letters',
    { schema: { params: S.idParams, querystring: S.obj({ limit: S.int({ minimum: 1, maximum: 1000 }), before: S.int({ minimum: 1 }) }) } },
    async (request) => {
      const d = await destinationOr404(ctx, request.params.id)
      const limit = request.query.limit ?? 100
      const { items, total } = await listDeadLetters(db, d.id, limit, request.query.before)
      return { total, items, nextBefore: items.length === limit ? (items.at(-1)?.id ?? null) : null }
    }
  )

  app.post(
    '/destinations/:id/dead-letters/replay',
    { schema: { params: S.idParams, body: S.nullable(S.obj({ ids: S.arr(S.int({ minimum: 1 })) })) } },
    async (request) => {
      const d = await destinationOr404(ctx, request.params.id)
      const ids = request.body?.ids
      const results = await replayDeadLetters(db, d.id, ids, Date.now())
      const replayed = results.filter((r) => r.replayed).length
      if (replayed > 0) ctx.pipeline.poke()
      return {
        replayed,
        notReplayed: results.length - replayed,
        results,
        ...(d.status === 'paused' || !d.enabled
          ? { warning: `the destination is ${d.enabled ? 'paused' : 'disabled'}: replayed changes wait until it delivers again` }
          : {})
      }
    }
  )
}
