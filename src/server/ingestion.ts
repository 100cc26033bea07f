/**
 * Segment HTTP Tracking API compatible ingestion (SPEC §3.1): `/v1/track`, `/v1/identify`,
 * `/v1/batch` (and `/v1/t`, `/v1/i`), write key by Basic auth or `writeKey` in the body, gzip
 * bodies, Segment's size limits, and the plain membership API. `200 {"success":true}` is sent only
 * after the events are committed. `/v1/batch` bodies are parsed and routed by route workers when
 * there are some (route-pool.ts); the rules they apply are in batch-body.ts.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { createGunzip, createInflate } from 'node:zlib'
import { audienceMembershipEvent } from '../destination/index.js'
import { checkEvent, type SegmentEvent } from '../pipeline/event.js'
import { sourceByWriteKey } from '../store/sql/config.js'
import type { Source } from '../store/model.js'
import { asIngestError, batchEvents, checkOne, decodeBody, IngestError, isObject, MAX_BATCH_BYTES, MAX_EVENT_BYTES, parseBody } from './batch-body.js'
import type { ServerContext } from './context.js'
import { routeWorkerCount } from '../util/worker.js'
import { RoutePool } from './route-pool.js'
import { isDiskFull } from '../store/disk-full.js'
import { webhookPlugin } from './webhook/index.js'
import { isDatabaseUnavailable } from '../store/errors.js'
import { cachedLookup } from '../util/ttl-cache.js'
import { retryLater } from './retry-later.js'
import { must } from '../util/must.js'

const WRITE_KEY_CACHE_MS = 5000

export const ingestionPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  // Known write keys only (cachedLookup keeps hits alone): a source's new key works at once.
  const lookupKey = cachedLookup(WRITE_KEY_CACHE_MS, (key: string) => sourceByWriteKey(ctx.store.db, key))

  // Segment's SDKs may gzip request bodies; the size limits apply to what they decompress to.
  // Fastify compares Content-Length with `receivedEncodedLength` of a replaced stream (else with
  // the decompressed length, and refuses every compressed body): count the bytes on the wire.
  app.addHook('preParsing', async (request, _reply, payload) => {
    const enc = String(request.headers['content-encoding'] ?? '')
      .toLowerCase()
      .trim()
    if (enc !== 'gzip' && enc !== 'x-gzip' && enc !== 'deflate') return payload
    const inflated = (enc === 'deflate' ? createInflate() : createGunzip()) as ReturnType<typeof createGunzip> & { receivedEncodedLength?: number }
    inflated.receivedEncodedLength = 0
    payload.on('data', (chunk: Buffer) => {
      inflated.receivedEncodedLength = (inflated.receivedEncodedLength ?? 0) + chunk.length
    })
    payload.on('error', (err) => inflated.destroy(err))
    return payload.pipe(inflated)
  })
  app.removeAllContentTypeParsers()
  // `/v1/batch` keeps its body as bytes: a route worker decodes and parses it, not this thread.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      done(null, req.routeOptions.url === '/v1/batch' ? body : parseBody(decodeBody(body as Buffer)))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
  // Started on first use: the pipeline is set once the server knows its port.
  const workers = routeWorkerCount()
  let pool: RoutePool | undefined
  const routePool = () => (workers > 0 ? (pool ??= new RoutePool(ctx.pipeline.table, workers, ctx.log)) : undefined)
  app.addHook('onClose', async () => pool?.close())
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const refused = asIngestError(err)
    if (refused) return refuse(reply, refused.status, refused.message)
    if (isDatabaseUnavailable(err)) {
      ctx.metrics.rejected.inc({ reason: '503' })
      return retryLater(reply, 503, 'the database is unavailable: the events were not stored; retry later')
    }
    if (isDiskFull(err)) {
      ctx.log.error({ err }, 'the database disk is full: refusing events until space is freed')
      ctx.metrics.rejected.inc({ reason: '503' })
      return retryLater(reply, 503, "the database's disk is full: the events were not stored; retry later")
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413)
      return refuse(reply, 413, `the request body is larger than ${bodyLimitText(request.routeOptions.url)}`)
    if (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR' || /incorrect header check|unexpected end of file/.test(err.message)) {
      return refuse(reply, 400, 'the request body is not valid gzip')
    }
    if (err.statusCode && err.statusCode < 500) return refuse(reply, 400, err.message)
    ctx.log.error({ err }, 'ingestion failed')
    return reply.code(500).send({ success: false, error: 'internal error: the events were not stored; retry' })
  })

  function refuse(reply: FastifyReply, status: number, message: string) {
    ctx.metrics.rejected.inc({ reason: String(status) })
    return reply.code(status).send({ success: false, error: message })
  }

  /** The write key of the HTTP Basic user name, if any. */
  function basicKey(request: FastifyRequest): string | undefined {
    const auth = request.headers.authorization
    if (!auth?.startsWith('Basic ')) return undefined
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8')
    return (decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded) || undefined
  }

  async function sourceOf(key: string | undefined): Promise<Source> {
    if (!key) throw new IngestError(401, 'missing write key: send it as the HTTP Basic user name or as "writeKey" in the body')
    const source = await lookupKey(key)
    if (!source) throw new IngestError(401, 'unknown write key')
    return source
  }

  function authenticate(request: FastifyRequest, body: Record<string, unknown>): Promise<Source> {
    return sourceOf(basicKey(request) ?? (typeof body.writeKey === 'string' ? body.writeKey : undefined))
  }

  /** `events` are stamped with `receivedAt` (the ISO form of `now`) already. */
  async function accept(source: Source, events: SegmentEvent[], now: number): Promise<void> {
    await ctx.pipeline.ingest(source.id, events, now)
    ctx.metrics.received.inc({ source: source.name }, events.length)
  }

  const single = (typeHint: string) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body
    if (!isObject(body)) throw new IngestError(400, 'the request body must be a JSON object (one event)')
    const source = await authenticate(request, body)
    if (body.type !== undefined && body.type !== typeHint)
      throw new IngestError(400, `"type" is ${describe(body.type)} but this endpoint takes ${typeHint} calls`)
    const now = Date.now()
    const event = checkOne(body, typeHint, '')
    event.receivedAt = new Date(now).toISOString()
    await accept(source, [event], now)
    return reply.send({ success: true })
  }
  const eventLimit = { bodyLimit: MAX_EVENT_BYTES + 1024 }
  for (const [path, type] of [
    ['/v1/track', 'track'],
    ['/v1/t', 'track'],
    ['/v1/identify', 'identify'],
    ['/v1/i', 'identify'],
    ['/v1/page', 'page'],
    ['/v1/p', 'page'],
    ['/v1/screen', 'screen'],
    ['/v1/group', 'group'],
    ['/v1/alias', 'alias']
  ] as const) {
    app.post(path, eventLimit, single(type))
  }

  app.post('/v1/batch', { bodyLimit: MAX_BATCH_BYTES }, async (request, reply) => {
    const bytes = request.body as Buffer
    const now = Date.now()
    // With the write key in the header, a route worker parses, checks and routes the body.
    const key = basicKey(request)
    const workerPool = key ? routePool() : undefined
    if (workerPool) {
      const source = await sourceOf(key)
      const routed = await workerPool.route(bytes, source.id, now)
      if (routed) {
        // Should the configuration have changed (the commit checks): routed again, by a worker or here.
        const reroute = async () => {
          const again = await workerPool.route(bytes, source.id, now)
          if (again) return [again]
          const events = batchEvents(parseBody(decodeBody(bytes)) as Record<string, unknown>, new Date(now).toISOString())
          return [await ctx.pipeline.router.route(events.map((event) => ({ sourceId: source.id, event, receivedAt: now })))]
        }
        await ctx.pipeline.ingestRouted([routed], reroute)
        ctx.metrics.received.inc({ source: source.name }, routed.items.count)
        return reply.send({ success: true })
      }
    }
    const body = parseBody(decodeBody(bytes))
    if (!isObject(body)) throw new IngestError(400, 'the request body must be a JSON object with a "batch" array')
    const source = await authenticate(request, body)
    const events = batchEvents(body, new Date(now).toISOString())
    if (events.length > 0) await accept(source, events, now)
    return reply.send({ success: true })
  })
  app.post('/v1/import', { bodyLimit: MAX_BATCH_BYTES }, async (request, reply) => {
    return reply.code(308).header('location', '/v1/batch').send({ success: false, error: 'use /v1/batch' })
  })

  // Plain membership API for senders that are not Segment: lists of identifiers per audience.
  app.post<{ Params: { key: string } }>('/v1/audiences/:key/members', { bodyLimit: MAX_BATCH_BYTES }, async (request, reply) => {
    const body = request.body
    if (!isObject(body)) throw new IngestError(400, 'the request body must be a JSON object {"destination", "add", "remove"}')
    const source = await authenticate(request, body)
    const key = request.params.key
    if (typeof body.destination !== 'string' || body.destination === '') throw new IngestError(400, '"destination" (the destination name) is required')
    const events: SegmentEvent[] = []
    for (const dir of ['add', 'remove'] as const) {
      const list = body[dir]
      if (list === undefined) continue
      if (!Array.isArray(list)) throw new IngestError(400, `"${dir}" must be an array of members`)
      list.forEach((m: unknown, i: number) => {
        if (!isObject(m)) throw new IngestError(400, `${dir}[${i}]: a member must be an object with email, phone or advertising_id`)
        const { email, phone, advertising_id } = m
        for (const [k, v] of Object.entries({ email, phone, advertising_id })) {
          if (v !== undefined && typeof v !== 'string') throw new IngestError(400, `${dir}[${i}].${k} must be a string`)
        }
        if (!email && !phone && !advertising_id) throw new IngestError(400, `${dir}[${i}]: needs at least one of email, phone, advertising_id`)
        events.push(membershipEvent(key, body.destination as string, dir === 'add', m as Record<string, string | undefined>))
      })
    }
    if (events.length === 0) throw new IngestError(400, 'nothing to do: "add" and "remove" are both empty')
    const now = Date.now()
    const receivedAt = new Date(now).toISOString()
    for (const e of events) e.receivedAt = receivedAt
    await accept(source, events, now)
    return reply.send({ success: true, accepted: events.length })
  })

  // Segment's webhook destinations: same parsing, gzip, errors and commit-then-200 as above.
  await app.register(webhookPlugin, { ctx, sourceOf, basicKey, accept })
}

/** What a request body's limit is, as its 413 names it. */
function bodyLimitText(route: string | undefined): string {
  if (route === '/v1/batch' || route === '/v1/import') return "Segment's limit of 500 KB per batch"
  if (route?.startsWith('/v1/audiences/')) return 'the limit of 500 KB per request'
  return "Segment's limit of 32 KB per event"
}

/** A value of a refused field, short and without serialising what may be hostile (deep, huge). */
function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (v === null) return 'null'
  return Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : String(v)
}

/** A member of the plain API as the Engage event our mappings already understand, for one destination only. */
function membershipEvent(audienceKey: string, destination: string, member: boolean, m: Record<string, string | undefined>): SegmentEvent {
  const check = checkEvent(
    audienceMembershipEvent({
      audienceKey,
      destination,
      member,
      ids: { email: m.email, phone: m.phone, advertisingId: m.advertising_id },
      // The first identifier given (an empty string counts as not given).
      userId: must(m.email || m.phone || m.advertising_id, 'an identifier of the member (checked by the caller)'),
      origin: { namespace: 'members-api', idPrefix: 'api' }
    })
  )
  if (!check.ok) throw new IngestError(400, check.error)
  return check.event
}
