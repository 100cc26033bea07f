/**
 * `tiktok-audiences forget`: removes a person from every TikTok audience the service added them to
 * (src/lifecycle/forget), delivering the removals itself and waiting for TikTok's answers. Prints
 * `{"audiences":N,"removed":N,"failed":N,"audit":ID}`; exit 0 when TikTok confirmed every removal.
 */
import { pipelineOptions, tiktokApiUrl } from '../config/delivery.js'
import { ForgetInputError, forgetPerson, summaryOf, waitForRemovals, type ForgetRequest } from '../lifecycle/forget/index.js'
import { Pipeline } from '../pipeline/index.js'
import { DEFAULT_DATABASE_URL, openStore } from '../store/index.js'
import { TikTokClient } from '../tiktok/client.js'
import { createLogger } from '../util/log.js'
import { printError } from './one-shot.js'

export interface ForgetOptions {
  email?: string
  phone?: string
  advertisingId?: string
  userId?: string
  db?: string
}

export async function runForget(opts: ForgetOptions): Promise<number> {
  const request: ForgetRequest = { email: opts.email, phone: opts.phone, advertising_id: opts.advertisingId, userId: opts.userId }
  const store = await openStore(opts.db || process.env.DATABASE_URL || DEFAULT_DATABASE_URL)
  // Nobody is there to re-authorise: a rejected token fails the removal (reported) instead of pausing.
  const pipeline = new Pipeline(store, new TikTokClient({ baseUrl: tiktokApiUrl() }), pipelineOptions(undefined, { failOnAuth: true }), createLogger('warn'))
  try {
    let auditId: number
    try {
      const queued = await forgetPerson(store, request)
      auditId = queued.auditId
      for (const name of queued.notRecorded)
        printError(`forget: destination "${name}" does not record its members (rememberMembers is off): people it added cannot be found`)
    } catch (e) {
      if (!(e instanceof ForgetInputError)) throw e
      printError(`forget: ${e.message}`)
      return 2
    }
    pipeline.start()
    pipeline.flushAll()
    const audit = await waitForRemovals(store, auditId)
    for (const a of audit.audiences)
      if (a.status === 'failed') printError(`failed: audience ${a.audienceId} (destination #${a.destinationId}): ${a.error ?? 'failed'}`)
    const summary = summaryOf(audit)
    process.stdout.write(JSON.stringify(summary) + '\n')
    return summary.failed === 0 && summary.removed === summary.audiences ? 0 : 1
  } finally {
    await pipeline.stop()
    await store.close()
  }
}
