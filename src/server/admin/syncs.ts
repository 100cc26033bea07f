/** Warehouse syncs (src/warehouse/): each with its last runs, and Run now. */
import type { FastifyPluginAsync } from 'fastify'
import type { ServerContext } from '../context.js'
import { ApiError } from './errors.js'
import { S } from './validation.js'

const run = S.out({
  id: S.int(),
  status: S.str(),
  startedBy: S.str(),
  rowsRead: S.int(),
  invalid: S.int(),
  added: S.int(),
  removed: S.int(),
  failed: S.int(),
  durationMs: S.nullable(S.int()),
  error: S.nullable(S.str()),
  startedAt: S.int(),
  finishedAt: S.nullable(S.int())
})
const sync = S.out({
  name: S.str(),
  kind: S.str(),
  destination: S.nullable(S.str()),
  audience: S.str(),
  every: S.str(),
  query: S.str(),
  nextRunAt: S.int(),
  running: S.bool(),
  lastRun: S.nullable(run),
  runs: S.arr(run)
})

export const syncRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get('/syncs', { schema: { response: { 200: S.arr(sync) } } }, async () => (ctx.warehouse ? ctx.warehouse.list() : []))

  // Answers once the run has started (202) or was skipped (409: another run holds the sync); the
  // run's figures come with GET /api/syncs as it finishes.
  app.post<{ Params: { name: string } }>(
    '/syncs/:name/run',
    { schema: { params: S.obj({ name: S.nonEmpty({ maxLength: 200 }) }, ['name']), response: { 202: S.out({ run }) } } },
    async (request, reply) => {
      const started = await ctx.warehouse?.runNow(request.params.name, 'console')
      if (!started) throw new ApiError(404, `no warehouse sync named "${request.params.name}"`, 'name')
      if (started.run.status === 'skipped') throw new ApiError(409, started.run.error ?? 'skipped', undefined, { run: started.run })
      return reply.code(202).send({ run: started.run })
    }
  )
}
