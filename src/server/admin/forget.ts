/**
 * `POST /api/forget` and the audit (src/lifecycle/forget): removes a person from every audience
 * they were added to, waiting a while for TikTok's answers (this server's pipeline delivers them);
 * what has not settled by then answers `pending`, and the audit shows how it ended.
 */
import type { FastifyPluginAsync } from 'fastify'
import { audiencesOf, ForgetInputError, forgetPerson, refreshAudit, waitForRemovals, type ForgetRequest } from '../../lifecycle/forget/index.js'
import { listAudits, type Audit } from '../../store/sql/forget-audits.js'
import type { ServerContext } from '../context.js'
import { badRequest, notFound } from './errors.js'
import { S } from './validation.js'
import { must } from '../../util/must.js'

/** How long `POST /api/forget` waits for TikTok before answering with what is still pending. */
const ANSWER_WITHIN_MS = 20_000

const identifier = S.str({ maxLength: 1000 })
const audienceSchema = S.out({ destination: S.str(), audienceId: S.str(), status: S.str({ enum: ['pending', 'removed', 'failed'] }) })
const auditSchema = S.out({ id: S.int(), requestedAt: S.int(), origin: S.str(), finishedAt: S.nullable(S.int()), audiences: S.arr(audienceSchema) })

export const forgetRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const { store } = ctx
  const view = async (audit: Audit) => {
    const { audiences: _, destinationId, ...rest } = audit
    return { ...rest, destinationId, audiences: await audiencesOf(store, audit) }
  }

  app.post<{ Body: ForgetRequest }>(
    '/forget',
    {
      schema: {
        body: S.obj({ email: identifier, phone: identifier, advertising_id: identifier, userId: identifier }),
        response: { 200: S.out({ audiences: S.arr(audienceSchema), audit: S.int(), notRecorded: S.arr(S.str()) }) }
      }
    },
    async (request) => {
      let queued: Awaited<ReturnType<typeof forgetPerson>>
      try {
        queued = await forgetPerson(store, request.body)
      } catch (e) {
        if (e instanceof ForgetInputError) throw badRequest(e.message)
        throw e
      }
      ctx.pipeline.poke()
      const audit = await waitForRemovals(store, queued.auditId, { timeoutMs: ANSWER_WITHIN_MS, pollMs: 100 })
      return { audiences: await audiencesOf(store, audit), audit: queued.auditId, notRecorded: queued.notRecorded }
    }
  )

  app.get<{ Querystring: { limit?: number } }>(
    '/forget/audits',
    { schema: { querystring: S.obj({ limit: S.int({ minimum: 1, maximum: 500 }) }), response: { 200: S.arr(auditSchema) } } },
    async (request) => {
      const audits = await listAudits(store.db, request.query.limit ?? 50)
      // Pending removals are looked at again: a consent withdrawal's audit settles as it is delivered.
      const fresh = await Promise.all(audits.map((a) => (a.finishedAt === null ? refreshAudit(store, a.id) : a)))
      return Promise.all(fresh.map((a, i) => view(must(a, `audit ${audits[i]?.id}`))))
    }
  )

  app.get<{ Params: { id: number } }>('/forget/audits/:id', { schema: { params: S.idParams, response: { 200: auditSchema } } }, async (request) => {
    const audit = await refreshAudit(store, request.params.id)
    if (!audit) throw notFound(`audit ${request.params.id}`)
    return view(audit)
  })
}
