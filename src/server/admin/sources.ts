/** Sources: who sends events (an Engage space, an app…) and the write key `/v1/*` authenticates them by. */
import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { listSources } from '../../store/sql/config.js'
import { createSource } from '../../store/sql/admin-config.js'
import type { ServerContext } from '../context.js'
import { ApiError } from './errors.js'
import { S } from './validation.js'

const source = S.out({ id: S.int(), name: S.str(), writeKey: S.nullable(S.str()) })

export const sourceRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get('/sources', { schema: { response: { 200: S.arr(source) } } }, async () => listSources(ctx.store.db))

  app.post<{ Body: { name: string; writeKey?: string } }>(
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
        throw new ApiError(409, taken ? `a source named "${request.body.name}" already exists` : 'that write key is already used by another source', taken ? 'name' : 'writeKey')
      }
      return reply.code(201).send(created)
    }
  )
}
