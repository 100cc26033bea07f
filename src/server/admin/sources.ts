/** Sources: who sends events (an Engage space, an app…) and the write key `/v1/*` authenticates them by. */
import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { listDestinations, listSources } from '../../store/sql/config.js'
import { setSourceSharedSecret, sourceSharedSecret } from '../../store/sql/source-secrets.js'
import { createSource } from '../../store/sql/admin-config.js'
import type { ServerContext } from '../context.js'
import { ApiError } from './errors.js'
import { S, typed } from './validation.js'

const source = S.out({ id: S.int(), name: S.str(), writeKey: S.nullable(S.str()) })

export const sourceRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (fastify, { ctx }) => {
  const app = typed(fastify)
  app.get('/sources', { schema: { response: { 200: S.arr(source) } } }, async () => listSources(ctx.store.db))

  app.post(
    '/sources',
    {
      schema: {
        body: S.obj({ name: S.nonEmpty({ maxLength: 200 }), writeKey: S.nonEmpty({ maxLength: 200 }) }, ['name']),
        response: { 201: source }
      }
    },
    async (request, reply) => {
      const writeKey = request.body.writeKey ?? `wk_${randomBytes(12).toString('hex')}`
      const created = await createSource(ctx.store.db, { name: request.body.name, writeKey })
      if (!created) {
        const taken = (await listSources(ctx.store.db)).some((s) => s.name === request.body.name)
        throw new ApiError(
          409,
          taken ? `a source named "${request.body.name}" already exists` : 'that write key is already used by another source',
          taken ? 'name' : 'writeKey'
        )
      }
      return reply.code(201).send(created)
    }
  )
}

const segmentConnect = S.out({
  sourceId: S.int(),
  writeKey: S.nullable(S.str()),
  webhookUrl: S.nullable(S.str()),
  createAudienceUrl: S.nullable(S.str()),
  getAudienceUrl: S.nullable(S.str()),
  sharedSecretSet: S.bool(),
  extrasExample: S.str(),
  destinations: S.arr(S.out({ name: S.str(), advertiserIds: S.arr(S.str()) }))
})

/**
 * What a Segment user pastes into Webhook Audiences / Webhooks (Actions): the URLs (write key in the
 * query: Segment's Create/Get Audience calls carry no headers), per-audience extras, and the shared
 * secret — shown once, when it is set; afterwards only whether one is set.
 */
export const segmentConnectRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (fastify, { ctx }) => {
  const app = typed(fastify)
  const { db, secrets } = ctx.store
  async function sourceOr404(id: number) {
    const s = (await listSources(db)).find((x) => x.id === id)
    if (!s) throw new ApiError(404, `source ${id} not found`)
    return s
  }

  app.get('/sources/:id/segment', { schema: { params: S.idParams, response: { 200: segmentConnect } } }, async (request) => {
    const s = await sourceOr404(request.params.id)
    const base = ctx.publicUrl.replace(/\/+$/, '')
    const q = s.writeKey ? `?writeKey=${encodeURIComponent(s.writeKey)}` : null
    const natives = (await listDestinations(db, secrets)).filter((d) => d.mode === 'native' && (d.sourceId === s.id || d.sourceId === null))
    const first = natives[0]
    return {
      sourceId: s.id,
      writeKey: s.writeKey,
      webhookUrl: q && `${base}/v1/webhook${q}`,
      createAudienceUrl: q && `${base}/v1/webhook/audiences${q}`,
      getAudienceUrl: q && `${base}/v1/webhook/audiences/get${q}`,
      sharedSecretSet: (await sourceSharedSecret(db, secrets, s.id)) !== null,
      extrasExample: JSON.stringify({ destination: first?.name ?? 'TikTok Audiences', advertiserId: first?.advertiserIds[0] ?? '<advertiser id>' }),
      destinations: natives.map((d) => ({ name: d.name, advertiserIds: d.advertiserIds }))
    }
  })

  app.put(
    '/sources/:id/shared-secret',
    {
      schema: {
        params: S.idParams,
        body: S.obj({ sharedSecret: S.nonEmpty({ minLength: 16, maxLength: 200 }) }),
        response: { 200: S.out({ sharedSecret: S.str() }) }
      }
    },
    async (request) => {
      await sourceOr404(request.params.id)
      const sharedSecret = request.body?.sharedSecret ?? randomBytes(24).toString('base64url')
      await setSourceSharedSecret(db, secrets, request.params.id, sharedSecret)
      return { sharedSecret }
    }
  )

  app.delete('/sources/:id/shared-secret', { schema: { params: S.idParams } }, async (request, reply) => {
    await sourceOr404(request.params.id)
    await setSourceSharedSecret(db, secrets, request.params.id, null)
    return reply.code(204).send()
  })
}
