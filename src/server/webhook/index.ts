/**
 * What Segment's Webhooks (Actions) and Webhook Audiences destinations send (INTERFACE.md):
 * `/v1/webhook` takes one event or a JSON array of them (each maybe carrying its audience's extras
 * at the top level), signed with `X-Signature` when the source has a shared secret;
 * `/v1/webhook/audiences` and `/v1/webhook/audiences/get` are the Create / Get Audience URLs.
 * Registered inside the ingestion plugin: same body parsing, gzip, errors and commit-then-200.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { MAX_EVENT_DEPTH, TOO_DEEP_ERROR, type SegmentEvent } from '../../pipeline/event.js'
import { jsonDeeperThan } from '../../util/json.js'
import type { Source } from '../../store/model.js'
import { sourceSharedSecret } from '../../store/sql/source-secrets.js'
import { cachedLookup } from '../../util/ttl-cache.js'
import { checkOne, IngestError, isObject } from '../batch-body.js'
import type { ServerContext } from '../context.js'
import { connectionWithId, createWebhookAudience, getWebhookAudience, WebhookError } from './audiences.js'
import { mergedExtras, signatureMatches, withoutExtras } from './signature.js'
import { first } from '../../util/array.js'
import type { LooseEvent } from '../../destination/types.js'

/** Segment batches webhook events by URL: a body of many 32 KB events is allowed, within reason. */
export const MAX_WEBHOOK_BYTES = 4 * 1024 * 1024
const SECRET_CACHE_MS = 5000

export interface WebhookOptions {
  ctx: ServerContext
  /** The source of the write key (HTTP Basic user name or `?writeKey=`); throws IngestError(401). */
  sourceOf: (key: string | undefined) => Promise<Source>
  basicKey: (request: FastifyRequest) => string | undefined
  /** Commits the events (the 200 follows only after). */
  accept: (source: Source, events: SegmentEvent[], now: number) => Promise<void>
}

type Obj = Record<string, unknown>

export const webhookPlugin: FastifyPluginAsync<WebhookOptions> = async (app, { ctx, sourceOf, basicKey, accept }) => {
  const secretOf = cachedLookup(SECRET_CACHE_MS, (sourceId: number) => sourceSharedSecret(ctx.store.db, ctx.store.secrets, sourceId))

  const keyOf = (request: FastifyRequest) => {
    const q = (request.query as Obj | undefined)?.writeKey
    return basicKey(request) ?? (typeof q === 'string' && q !== '' ? q : undefined)
  }

  const refuse = (reply: FastifyReply, err: WebhookError) => reply.code(err.status).send({ success: false, error: err.message })

  app.post('/v1/webhook', { bodyLimit: MAX_WEBHOOK_BYTES }, async (request, reply) => {
    const source = await sourceOf(keyOf(request))
    const body = request.body
    const list: unknown[] = Array.isArray(body) ? body : [body]
    if (list.length === 0) throw new IngestError(400, 'the request body is an empty array: expected an event or an array of events')
    list.forEach((raw, i) => {
      const at = Array.isArray(body) ? `[${i}]: ` : ''
      if (!isObject(raw)) throw new IngestError(400, `${at}an event must be a JSON object`)
      // Before the signature is computed over it: JSON.stringify of a deeper value overflows the stack.
      if (jsonDeeperThan(raw, MAX_EVENT_DEPTH)) throw new IngestError(400, `${at}${TOO_DEEP_ERROR}`)
    })
    const events = list as Obj[]
    const secret = await secretOf(source.id)
    if (secret != null) {
      const signature = request.headers['x-signature']
      if (typeof signature !== 'string' || signature === '')
        throw new IngestError(
          401,
          "missing X-Signature: this source has a shared secret, so Segment must sign its requests (set the same Shared Secret in the webhook destination's settings)"
        )
      if (!signatureMatches(secret, first(events), signature))
        throw new IngestError(401, "X-Signature does not match: the shared secret in Segment differs from this source's")
    }
    const now = Date.now()
    const receivedAt = new Date(now).toISOString()
    const accepted: SegmentEvent[] = []
    let refreshed = false
    for (const [i, raw] of events.entries()) {
      const at = Array.isArray(body) ? `[${i}]: ` : ''
      const event = checkOne(withoutExtras(raw, mergedExtras(raw)), undefined, at)
      const personas = (event.context as LooseEvent | undefined)?.personas
      const externalId = personas?.external_audience_id
      if (externalId !== undefined && externalId !== null && externalId !== '') {
        let found = connectionWithId(ctx, source.id, String(externalId))
        if (!found && !refreshed) {
          refreshed = true
          await ctx.pipeline.table.refresh()
          found = connectionWithId(ctx, source.id, String(externalId))
        }
        if (!found)
          throw new IngestError(
            400,
            `${at}context.personas.external_audience_id ${String(externalId)} is not an audience connected on this source: Segment creates it through the Create Audience URL (/v1/webhook/audiences)`
          )
        // Segment's audience settings here hold only its extras string: the connection knows the
        // advertiser, and the event is for that one destination.
        personas.audience_settings = { advertiserId: found.connection.advertiserId }
        event.integrations = { All: false, [found.destination.name]: true }
      }
      event.receivedAt = receivedAt
      accepted.push(event)
    }
    await accept(source, accepted, now)
    return reply.send({ success: true })
  })

  app.post('/v1/webhook/audiences', async (request, reply) => {
    const source = await sourceOf(keyOf(request))
    if (!isObject(request.body)) throw new IngestError(400, 'the request body must be a JSON object {"audienceName", …extras}')
    try {
      const { externalId } = await createWebhookAudience(ctx, source.id, request.body)
      return reply.send({ externalId })
    } catch (err) {
      if (err instanceof WebhookError) return refuse(reply, err)
      throw err
    }
  })

  app.post('/v1/webhook/audiences/get', async (request, reply) => {
    const source = await sourceOf(keyOf(request))
    if (!isObject(request.body)) throw new IngestError(400, 'the request body must be a JSON object {"externalId", …extras}')
    try {
      return reply.send(await getWebhookAudience(ctx, source.id, request.body))
    } catch (err) {
      if (err instanceof WebhookError) return refuse(reply, err)
      throw err
    }
  })
}
