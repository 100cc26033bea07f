/**
 * Destinations: create (legacy/native, source), settings (name, normalisation, default phone
 * region, batch size, auto-connect, Enable Destination), delete. Enabling is refused until the
 * auth test passes, with the reference's messages.
 */
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { DEFAULT_PHONE_REGION } from '../../destination/identifiers.js'
import { getDestination, listDestinations, listSources, upsertDestination } from '../../store/sql/config.js'
import { deleteDestination, destinationIdByName, updateDestinationSettings, type DestinationSettingsPatch } from '../../store/sql/admin-config.js'
import type { ServerContext } from '../context.js'
import { destinationSchema, destinationView } from './destination-view.js'
import { ApiError, badRequest } from './errors.js'
import { destinationOr404 } from './lookup.js'
import { testAuthentication } from './tiktok-auth.js'
import { S, typed } from './validation.js'
import { DESTINATION_DEFAULTS, MAX_BATCH_SIZE } from '../../util/defaults.js'
import { must } from '../../util/must.js'

const settingsProps = {
  name: S.nonEmpty({ maxLength: 200 }),
  normalization: S.oneOf('recommended', 'segment'),
  defaultPhoneRegion: S.nullable(S.str({ pattern: '^[A-Z]{2}$' })),
  consentCategory: S.nullable(S.str({ minLength: 1, maxLength: 100 })),
  rememberMembers: S.bool(),
  batchSize: S.int({ minimum: 1, maximum: MAX_BATCH_SIZE }),
  autoConnectAudiences: S.bool(),
  enabled: S.bool()
}

const createBody = S.obj({ ...settingsProps, mode: S.oneOf('native', 'legacy'), source: Type.Union([S.nonEmpty(), S.int()]) }, ['name'])

export const destinationRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (fastify, { ctx }) => {
  const app = typed(fastify)
  const { db, secrets } = ctx.store

  async function refuseEnableUnlessAuthorised(accessToken: string | null): Promise<void> {
    const auth = await testAuthentication(ctx.tiktok, accessToken)
    if (!auth.ok) throw new ApiError(409, auth.message, 'enabled', auth.tiktok ? { tiktok: auth.tiktok } : {})
  }

  app.get('/destinations', { schema: { response: { 200: S.arr(destinationSchema) } } }, async () =>
    Promise.all((await listDestinations(db, secrets)).map((d) => destinationView(ctx, d)))
  )

  app.get('/destinations/:id', { schema: { params: S.idParams, response: { 200: destinationSchema } } }, async (request) =>
    destinationView(ctx, await destinationOr404(ctx, request.params.id))
  )

  app.post(
    '/destinations',
    {
      schema: {
        body: createBody,
        response: { 201: destinationSchema }
      }
    },
    async (request, reply) => {
      const b = request.body
      if ((await destinationIdByName(db, b.name)) !== undefined) throw new ApiError(409, `a destination named "${b.name}" already exists`, 'name')
      const sources = await listSources(db)
      let sourceId: number
      if (b.source === undefined) {
        const [only] = sources
        if (sources.length !== 1 || !only)
          throw badRequest(`"source" is required: name one of ${sources.map((s) => s.name).join(', ') || '(no sources yet)'}`, 'source')
        sourceId = only.id
      } else {
        const s = sources.find((x) => x.name === b.source || x.id === b.source)
        if (!s) throw badRequest(`"source": no source ${JSON.stringify(b.source)} (known: ${sources.map((x) => x.name).join(', ')})`, 'source')
        sourceId = s.id
      }
      // A new destination has no token yet: enabling it needs OAuth (or a pasted token) first.
      if (b.enabled) await refuseEnableUnlessAuthorised(null)
      const d = await upsertDestination(db, secrets, {
        name: b.name,
        sourceId,
        mode: b.mode ?? DESTINATION_DEFAULTS.mode,
        enabled: false,
        normalization: b.normalization ?? DESTINATION_DEFAULTS.normalization,
        // Omitted: the default a user expects (a value they see and can change); null: none, chosen.
        defaultPhoneRegion: b.defaultPhoneRegion === undefined ? DEFAULT_PHONE_REGION : b.defaultPhoneRegion,
        consentCategory: b.consentCategory ?? null,
        rememberMembers: b.rememberMembers ?? false,
        accessToken: null,
        advertiserIds: [],
        batchSize: b.batchSize ?? DESTINATION_DEFAULTS.batchSize,
        autoConnect: b.autoConnectAudiences ?? DESTINATION_DEFAULTS.autoConnectAudiences
      })
      return reply.code(201).send(await destinationView(ctx, d))
    }
  )

  app.patch('/destinations/:id', { schema: { params: S.idParams, body: S.obj(settingsProps), response: { 200: destinationSchema } } }, async (request) => {
    const d = await destinationOr404(ctx, request.params.id)
    const b = request.body
    if (b.name !== undefined && b.name !== d.name && (await destinationIdByName(db, b.name)) !== undefined) {
      throw new ApiError(409, `a destination named "${b.name}" already exists`, 'name')
    }
    if (b.enabled === true && !d.enabled) await refuseEnableUnlessAuthorised(d.accessToken)
    const patch: DestinationSettingsPatch = {
      name: b.name,
      normalization: b.normalization,
      defaultPhoneRegion: b.defaultPhoneRegion,
      consentCategory: b.consentCategory,
      rememberMembers: b.rememberMembers,
      batchSize: b.batchSize,
      autoConnect: b.autoConnectAudiences,
      enabled: b.enabled
    }
    await updateDestinationSettings(db, d.id, patch)
    if (b.enabled) ctx.pipeline.poke()
    return destinationView(ctx, must(await getDestination(db, secrets, d.id), `destination ${d.id}`))
  })

  app.delete('/destinations/:id', { schema: { params: S.idParams } }, async (request, reply) => {
    await destinationOr404(ctx, request.params.id)
    await deleteDestination(db, request.params.id)
    return reply.code(204).send()
  })
}
