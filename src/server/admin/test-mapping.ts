/**
 * Test Mapping (SPEC §2.5): one event through one mapping FOR REAL — connected-audience stamping
 * as the router does it, trigger, mapping, the TikTok change, then the request sent to TikTok at
 * once (not queued). TikTok's answer is returned as the response, errors included. For Create
 * Audience, an existing audience of the same name is reported first (SPEC §5 item 10).
 */
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import {
  buildCreateAudienceBody,
  buildMappingBody,
  compileMapping,
  membershipRows,
  PayloadValidationError,
  toChange,
  type CompiledMapping
} from '../../destination/index.js'
import { audienceOf } from '../../pipeline/event.js'
import { explainRouteError, explainTikTokFailure } from '../../pipeline/explain.js'
import { stampPersonas } from '../../pipeline/personas.js'
import { listConnections } from '../../store/sql/config.js'
import type { Destination } from '../../store/model.js'
import type { TikTokExchange } from '../../tiktok/types.js'
import { TikTokError } from '../../tiktok/errors.js'
import type { ServerContext } from '../context.js'
import { destinationOr404, mappingOr404 } from './lookup.js'
import { AUTH_MESSAGES } from './tiktok-auth.js'
import { S, typed } from './validation.js'
import type { LooseEvent } from '../../destination/types.js'

const options = {
  event: Type.Unsafe<LooseEvent>({ type: 'object' }),
  /** Create Audience: create even when the advertiser already has an audience of that name. */
  allowDuplicate: S.bool(),
  /** Send even when the event does not match the trigger. */
  ignoreTrigger: S.bool()
}
const testOptionsBody = S.obj(options, ['event'])
type TestOptions = Static<typeof testOptionsBody>

export interface TestResult {
  matched: boolean
  /** The event after connected-audience stamping: what the mapping saw. */
  event: LooseEvent
  payload: Record<string, unknown> | null
  change: unknown
  request: { method: string; url: string; body: unknown } | null
  response: { httpStatus: number; body: unknown } | null
  error?: { code: string; message: string }
  warning?: string
  duplicateOf?: { audience_id: string; name: string }
  /** Create Audience: the id of the audience TikTok created (what a legacy user copies). */
  audience_id?: string
}

const shown = (x: TikTokExchange | undefined) =>
  x
    ? { request: { method: x.request.method, url: x.request.url, body: x.request.body ?? null }, response: { httpStatus: x.httpStatus, body: x.response } }
    : { request: null, response: null }

export async function runTestMapping(ctx: ServerContext, dest: Destination, compiled: CompiledMapping, opts: TestOptions): Promise<TestResult> {
  let event = opts.event
  const audience = audienceOf(event)
  const connection = audience ? (await listConnections(ctx.store.db, dest.id)).find((c) => c.audienceKey === audience.key) : undefined
  if (connection) event = stampPersonas(event, connection.externalAudienceId, connection.advertiserId)
  const result: TestResult = { matched: compiled.matches(event), event, payload: null, change: null, request: null, response: null }
  if (connection && ((event.type === 'track' && !connection.sendTrack) || (event.type === 'identify' && !connection.sendIdentify))) {
    result.warning = `the audience "${connection.audienceKey}" is connected with Send ${event.type === 'track' ? 'Track' : 'Identify'} off: such events are not sent to this destination`
  }
  if (!result.matched && !opts.ignoreTrigger) {
    result.error = {
      code: 'TRIGGER_NOT_MATCHED',
      message: `The event does not match the trigger ${compiled.trigger}; nothing was sent (send "ignoreTrigger": true to send anyway).`
    }
    return result
  }
  try {
    result.payload = compiled.map(event, dest.normalization === 'recommended') as Record<string, unknown>
  } catch (err) {
    if (!(err instanceof PayloadValidationError)) throw err
    result.error = { code: err.code, message: err.message }
    return result
  }
  const change = toChange(compiled, result.payload as never, {
    event,
    settings: {
      mode: dest.mode,
      advertiserIds: dest.advertiserIds,
      normalization: dest.normalization,
      defaultPhoneRegion: dest.defaultPhoneRegion ?? undefined
    },
    audienceSettings: event.context?.personas?.audience_settings
  })
  result.change = change
  if (change.kind === 'error') {
    result.error = { code: change.code, message: explainRouteError(change.message, { destination: dest.name, audienceKey: audience?.key }) }
    return result
  }
  if (!dest.accessToken) {
    result.error = { code: 'NO_ACCESS_TOKEN', message: AUTH_MESSAGES.noToken }
    return result
  }
  const client = ctx.tiktok.withToken(dest.accessToken)
  try {
    if (change.kind === 'create') {
      if (!opts.allowDuplicate) {
        const existing = (await client.listAllAudiences(change.advertiserId)).find((a) => a.name === change.name)
        if (existing) {
          result.duplicateOf = { audience_id: String(existing.audience_id), name: existing.name }
          result.warning = `Advertiser ${change.advertiserId} already has an audience named "${change.name}" (audience_id ${existing.audience_id}). Reuse its id, or test again with "allowDuplicate": true to create another one (TikTok allows duplicate names).`
          return result
        }
      }
      const created = await client.createAudience(buildCreateAudienceBody(change))
      result.audience_id = String(created.data.audience_id)
      Object.assign(result, shown(created.exchange))
    } else {
      Object.assign(result, shown(await client.segmentMapping(buildMappingBody(membershipRows(change)))))
    }
  } catch (err) {
    if (!(err instanceof TikTokError)) throw err
    Object.assign(result, shown(err.details.exchange))
    const advertisers = change.kind === 'create' ? [change.advertiserId] : change.advertiserIds
    result.error = {
      code: err.code !== undefined ? String(err.code) : err.kind.toUpperCase(),
      message: explainTikTokFailure(err, advertisers, dest.advertiserIds)
    }
  }
  return result
}

export const testMappingRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (fastify, { ctx }) => {
  const app = typed(fastify)
  app.post(
    '/destinations/:id/mappings/test',
    {
      schema: {
        params: S.idParams,
        body: S.obj({ ...options, action: S.nonEmpty(), trigger: S.nonEmpty(), mapping: S.record() }, ['action', 'event'])
      }
    },
    async (request) => {
      const dest = await destinationOr404(ctx, request.params.id)
      const { action, trigger, mapping, ...opts } = request.body
      return runTestMapping(ctx, dest, compileMapping({ action, trigger, mapping }), opts)
    }
  )

  app.post('/mappings/:id/test', { schema: { params: S.idParams, body: testOptionsBody } }, async (request) => {
    const m = await mappingOr404(ctx, request.params.id)
    const dest = await destinationOr404(ctx, m.destinationId)
    return runTestMapping(ctx, dest, compileMapping({ action: m.action, trigger: m.trigger, mapping: m.mapping }), request.body)
  })
}
