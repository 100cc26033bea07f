/**
 * Mappings of a destination: created from the action's defaults, disabled unless `enabled` is
 * given (like Segment's), at most 50 per destination; validated by compiling them, so a bad
 * trigger or directive is refused with the field it is in.
 */
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { compileMapping } from '../../destination/index.js'
import { countMappings, listMappings, upsertMapping } from '../../store/sql/config.js'
import { deleteMapping, mappingNameTaken, nextMappingPosition, updateMapping } from '../../store/sql/admin-config.js'
import type { Mapping } from '../../store/model.js'
import type { ServerContext } from '../context.js'
import { ApiError, badRequest } from './errors.js'
import { destinationOr404, mappingOr404 } from './lookup.js'
import { S, typed } from './validation.js'

export const MAX_MAPPINGS = 50

const mappingSchema = S.out({
  id: S.int(),
  destinationId: S.int(),
  name: S.str(),
  action: S.str(),
  trigger: S.str(),
  mapping: Type.Unsafe({ type: 'object', additionalProperties: true }),
  enabled: S.bool(),
  position: S.int()
})

const editable = {
  name: S.nonEmpty({ maxLength: 200 }),
  trigger: S.nonEmpty({ maxLength: 10_000 }),
  mapping: S.record(),
  enabled: S.bool()
}

/** The mapping with the trigger's non-fatal remarks (e.g. an event name that never occurs). */
function view(m: Mapping) {
  let warnings: string[]
  try {
    warnings = compileMapping({ action: m.action, trigger: m.trigger, mapping: m.mapping }).warnings
  } catch (err) {
    warnings = [`this stored mapping no longer compiles: ${(err as Error).message}`]
  }
  return { ...m, warnings }
}

export const mappingRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (fastify, { ctx }) => {
  const app = typed(fastify)
  const { db } = ctx.store

  app.get('/destinations/:id/mappings', { schema: { params: S.idParams, response: { 200: S.arr(mappingSchema) } } }, async (request) => {
    await destinationOr404(ctx, request.params.id)
    return (await listMappings(db, request.params.id)).map(view)
  })

  app.post(
    '/destinations/:id/mappings',
    { schema: { params: S.idParams, body: S.obj({ ...editable, action: S.nonEmpty() }, ['action']), response: { 201: mappingSchema } } },
    async (request, reply) => {
      const d = await destinationOr404(ctx, request.params.id)
      const b = request.body
      if ((await countMappings(db, d.id)) >= MAX_MAPPINGS) throw badRequest(`A destination can have at most ${MAX_MAPPINGS} mappings`, 'action')
      const compiled = compileMapping({ action: b.action, trigger: b.trigger, mapping: b.mapping })
      const base = b.name ?? compiled.action.title
      if (b.name !== undefined && (await mappingNameTaken(db, d.id, base)))
        throw new ApiError(409, `this destination already has a mapping named "${base}"`, 'name')
      let name = base
      for (let n = 2; await mappingNameTaken(db, d.id, name); n++) name = `${base} (${n})`
      const m = await upsertMapping(db, {
        destinationId: d.id,
        name,
        action: b.action,
        trigger: compiled.trigger,
        mapping: compiled.mapping,
        enabled: b.enabled ?? false,
        position: await nextMappingPosition(db, d.id)
      })
      return reply.code(201).send(view(m))
    }
  )

  app.get('/mappings/:id', { schema: { params: S.idParams, response: { 200: mappingSchema } } }, async (request) =>
    view(await mappingOr404(ctx, request.params.id))
  )

  app.patch('/mappings/:id', { schema: { params: S.idParams, body: S.obj(editable), response: { 200: mappingSchema } } }, async (request) => {
    const m = await mappingOr404(ctx, request.params.id)
    const b = request.body
    if (b.name !== undefined && (await mappingNameTaken(db, m.destinationId, b.name, m.id))) {
      throw new ApiError(409, `this destination already has a mapping named "${b.name}"`, 'name')
    }
    const compiled = compileMapping({ action: m.action, trigger: b.trigger ?? m.trigger, mapping: b.mapping ?? m.mapping })
    await updateMapping(db, m.id, { name: b.name ?? m.name, trigger: compiled.trigger, mapping: compiled.mapping, enabled: b.enabled ?? m.enabled })
    return view(await mappingOr404(ctx, m.id))
  })

  app.delete('/mappings/:id', { schema: { params: S.idParams } }, async (request, reply) => {
    await mappingOr404(ctx, request.params.id)
    await deleteMapping(db, request.params.id)
    return reply.code(204).send()
  })
}
