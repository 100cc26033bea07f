/**
 * The emulator's own control API under `/_emulator` (no auth, plain JSON): inspect audiences and the
 * request log, inject faults, reset, tune limits, mint and revoke tokens. Not part of TikTok's API.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseFaultRules } from './faults.js'
import { queryString } from './http.js'
import { parseIdList } from './mapping.js'
import { EMULATOR_CREDENTIALS, ID_TYPES, type EmulatorConfig, type EmulatorState, type IdType } from './state.js'

export const CONTROL_BASE = '/_emulator'

function bodyObject(request: FastifyRequest): Record<string, unknown> {
  const b = request.body
  return typeof b === 'object' && b !== null && !Array.isArray(b) ? (b as Record<string, unknown>) : {}
}

function badRequest(reply: FastifyReply, error: string): FastifyReply {
  return reply.code(400).send({ error })
}

export function emulatorSummary(state: EmulatorState): Record<string, unknown> {
  return {
    emulator: 'TikTok Business API emulator — a local stand-in, not TikTok',
    credentials: {
      app_id: EMULATOR_CREDENTIALS.appId,
      secret: EMULATOR_CREDENTIALS.secret,
      access_token: EMULATOR_CREDENTIALS.accessToken,
      advertisers: EMULATOR_CREDENTIALS.advertisers.map((a) => ({ advertiser_id: a.advertiserId, name: a.name }))
    },
    counts: {
      apps: state.apps.size,
      advertisers: state.advertisers.size,
      tokens: state.tokens.size,
      audiences: state.audiences.size,
      requests: state.requestLog.list().length,
      faults: state.faults.size
    },
    config: state.config,
    /** Where tokens, audiences and members are kept across restarts; null: in memory. */
    state_file: state.stateFile ?? null
  }
}

export function registerControlRoutes(app: FastifyInstance, state: EmulatorState): void {
  const base = CONTROL_BASE

  app.get(base, async () => emulatorSummary(state))

  app.get(`${base}/audiences`, async (request) => {
    const advertiserId = queryString(request, 'advertiser_id')
    const audiences = state.listAudiences(advertiserId).reverse() // oldest first reads naturally in a dump
    return {
      audiences: audiences.map((a) => ({
        audience_id: a.audienceId,
        name: a.name,
        advertiser_id: a.advertiserId,
        created_at: new Date(a.createdAt).toISOString(),
        members: state.memberCounts(a),
        total: state.coverNum(a),
        cover_num: state.coverNum(a),
        expires_at: new Date(state.expiresAt(a)).toISOString()
      }))
    }
  })

  // What `/dmp/custom_audience/get/` reports for an audience: its size (`coverNum`) and expiry
  // (`expiresAt`, ISO-8601); null returns either to the computed value (member count; creation + 365 days).
  app.post<{ Params: { id: string } }>(`${base}/audiences/:id`, async (request, reply) => {
    const audience = state.audiences.get(request.params.id)
    if (!audience) return reply.code(404).send({ error: `no audience ${request.params.id}` })
    const body = bodyObject(request)
    const report: { coverNum?: number | null; expiresAt?: number | null } = {}
    if (body.coverNum !== undefined) {
      if (body.coverNum !== null && (typeof body.coverNum !== 'number' || !Number.isInteger(body.coverNum) || body.coverNum < 0)) {
        return badRequest(reply, 'coverNum must be an integer ≥ 0, or null')
      }
      report.coverNum = body.coverNum as number | null
    }
    if (body.expiresAt !== undefined) {
      const at = typeof body.expiresAt === 'string' ? Date.parse(body.expiresAt) : NaN
      if (body.expiresAt !== null && Number.isNaN(at)) return badRequest(reply, 'expiresAt must be an ISO-8601 time (e.g. "2026-12-31T00:00:00Z"), or null')
      report.expiresAt = body.expiresAt === null ? null : at
    }
    if (report.coverNum === undefined && report.expiresAt === undefined) return badRequest(reply, 'give coverNum and/or expiresAt')
    state.setAudienceReport(audience, report)
    return {
      audience_id: audience.audienceId,
      cover_num: state.coverNum(audience),
      expires_at: new Date(state.expiresAt(audience)).toISOString(),
      is_valid: state.isValid(audience),
      is_expiring: state.isExpiring(audience)
    }
  })

  app.get<{ Params: { id: string } }>(`${base}/audiences/:id/members`, async (request, reply) => {
    const audience = state.audiences.get(request.params.id)
    if (!audience) return reply.code(404).send({ error: `no audience ${request.params.id}` })
    const members = {} as Record<IdType, string[]>
    for (const type of ID_TYPES) members[type] = [...audience.members[type]].sort()
    return { audience_id: audience.audienceId, advertiser_id: audience.advertiserId, name: audience.name, members }
  })

  app.get(`${base}/requests`, async (request, reply) => {
    const sinceRaw = queryString(request, 'since')
    let since: number | undefined
    if (sinceRaw !== undefined) {
      since = Number(sinceRaw)
      if (!Number.isInteger(since)) return badRequest(reply, 'since must be an integer sequence number')
    }
    return { requests: state.requestLog.list({ path: queryString(request, 'path'), since }) }
  })

  app.delete(`${base}/requests`, async () => {
    state.requestLog.clear()
    return { cleared: true }
  })

  app.get(`${base}/faults`, async () => ({ rules: state.faults.list() }))

  app.post(`${base}/faults`, async (request, reply) => {
    const body = bodyObject(request)
    const rules = parseFaultRules(body.rules)
    if (typeof rules === 'string') return badRequest(reply, rules)
    state.faults.set(rules, body.append === true)
    return { rules: state.faults.list() }
  })

  app.delete(`${base}/faults`, async () => {
    state.faults.clear()
    return { rules: [] }
  })

  app.post(`${base}/reset`, async () => {
    state.reset()
    return { reset: true }
  })

  app.get(`${base}/config`, async () => state.config)

  app.post(`${base}/config`, async (request, reply) => {
    const body = bodyObject(request)
    const patch: Partial<EmulatorConfig> = {}
    for (const key of ['qps', 'otherQps', 'validThreshold'] as const) {
      const v = body[key]
      if (v === undefined) continue
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return badRequest(reply, `${key} must be a number ≥ 0`)
      patch[key] = v
    }
    return state.setConfig(patch)
  })

  app.post(`${base}/tokens`, async (request, reply) => {
    const body = bodyObject(request)
    const advertiserIds = parseIdList(body.advertiser_ids, 'advertiser_ids')
    if (typeof advertiserIds === 'string') return badRequest(reply, advertiserIds)
    const appId = body.app_id ?? EMULATOR_CREDENTIALS.appId
    if (typeof appId !== 'string' || !state.apps.has(appId)) return badRequest(reply, `unknown app_id ${JSON.stringify(appId)}`)
    const accessToken = body.access_token
    if (accessToken !== undefined && (typeof accessToken !== 'string' || accessToken === '')) {
      return badRequest(reply, 'access_token must be a non-empty string')
    }
    // Tokens for advertisers the emulator has never seen bring those advertisers into existence.
    for (const id of advertiserIds) {
      if (!state.advertisers.has(id)) state.addAdvertiser({ advertiser_id: id, name: `Emulator Advertiser ${id}` })
    }
    const token = state.createToken({ accessToken, appId, advertiserIds })
    return { access_token: token.accessToken, app_id: token.appId, advertiser_ids: token.advertiserIds }
  })

  app.post(`${base}/tokens/revoke`, async (request, reply) => {
    const accessToken = bodyObject(request).access_token
    if (typeof accessToken !== 'string') return badRequest(reply, 'access_token is required')
    if (!state.revokeToken(accessToken)) return reply.code(404).send({ error: 'unknown access_token' })
    return { revoked: true }
  })
}
