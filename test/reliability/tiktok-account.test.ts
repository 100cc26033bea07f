/**
 * The TikTok account changing under the service (issue 17.2): the access token revoked mid-run
 * (the destination pauses, keeps its queue, resumes once re-authorised through the admin API) and
 * an audience deleted in TikTok (its changes end dead-lettered with TikTok's reason; the other
 * audiences are unaffected).
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { sleep, waitFor } from '../helpers/emu-control.js'
import { ADVERTISER, drained, faultMs, startRig } from '../helpers/fault-rig.js'
import { Traffic, verify } from '../helpers/fault-traffic.js'
import { stopAllServes } from '../helpers/serve.js'

after(stopAllServes)

const AUDIENCES = ['alpha', 'beta', 'gamma']

async function emuControl(url: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}/_emulator${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  assert.ok(r.ok, `${path}: ${r.status}`)
  return (await r.json()) as Record<string, unknown>
}

test('token revoked mid-run: the destination pauses with the reason, keeps every change, and delivers them all after re-authorising', async () => {
  const rig = await startRig({ audiences: AUDIENCES })
  try {
    const traffic = new Traffic({ url: () => rig.serve.url, audiences: AUDIENCES, lanes: 2, perBatch: 40, pauseMs: 100, tag: 'revoke' }).start()
    await sleep(1500)
    await emuControl(rig.emu.url, '/tokens/revoke', { access_token: 'emulator-access-token' })
    const paused = await waitFor(
      async () => (await rig.api<{ id: number; status: string }[]>('/destinations')).some((d) => d.id === rig.destinationId && d.status === 'paused'),
      15_000,
      200
    )
    assert.ok(paused, 'the destination paused')
    const dest = (await rig.api<{ id: number; status: string; statusReason: string }[]>('/destinations')).find((d) => d.id === rig.destinationId)!
    assert.match(dest.statusReason, /access token/i)
    // Ingestion goes on while paused: the queue keeps what arrives.
    await sleep(faultMs(5000, 30_000))
    const pausedStats = await rig.api<{ pending: number; failed: number }>('/stats')
    assert.ok(pausedStats.pending > 0, 'changes wait while paused')
    assert.equal(pausedStats.failed, 0, 'nothing is dead-lettered for a revoked token')
    // Re-authorise as an operator would: a new token pasted through the admin API.
    await emuControl(rig.emu.url, '/tokens', { access_token: 'fresh-token', advertiser_ids: [ADVERTISER] })
    await rig.api(`/destinations/${rig.destinationId}/token`, { body: { accessToken: 'fresh-token' } })
    await sleep(1000)
    await traffic.stop()
    const stats = await drained(rig, 60_000)
    const v = await verify(rig, traffic, stats)
    assert.equal((await rig.api<{ id: number; status: string }[]>('/destinations')).find((d) => d.id === rig.destinationId)!.status, 'active')
    console.log(
      `RELIABILITY ${JSON.stringify({ test: 'token-revoked', acked: v.acked, pendingWhilePaused: pausedStats.pending, refusals: Object.fromEntries(traffic.refusals) })}`
    )
  } finally {
    await rig.close()
  }
})

test('audience deleted in TikTok mid-run: its changes end dead-lettered with the reason, the other audiences get everything', async () => {
  const rig = await startRig({ audiences: AUDIENCES })
  try {
    const traffic = new Traffic({ url: () => rig.serve.url, audiences: AUDIENCES, lanes: 2, perBatch: 40, pauseMs: 100, tag: 'deleted' }).start()
    await sleep(1500)
    const gone = rig.audienceIds.get('gamma')!
    const r = await fetch(`${rig.emu.apiUrl}/v1.3/segment/audience/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Access-Token': 'emulator-access-token' },
      body: JSON.stringify({ advertiser_id: ADVERTISER, action: 'delete', delete_audience_id: gone })
    })
    assert.equal(((await r.json()) as { code: number }).code, 0)
    await sleep(faultMs(5000, 30_000))
    await traffic.stop()
    const stats = await drained(rig, 60_000)
    const v = await verify(rig, traffic, stats, { deadAudiences: ['gamma'] })
    assert.ok(stats.failed > 0, 'the deleted audience has dead letters')
    const dead = await rig.api<{ total: number; items: { error: string; errorCode: string }[] }>(`/destinations/${rig.destinationId}/dead-letters?limit=1000`)
    assert.equal(dead.total, stats.failed)
    for (const d of dead.items)
      assert.ok(d.error.includes(gone) && d.errorCode === '40002', `the dead letter names the audience and TikTok's code: ${d.error} (${d.errorCode})`)
    const gammaAcked = [...traffic.acked.values()].filter((a) => a.audience === 'gamma').length
    assert.ok(stats.failed <= gammaAcked, `only the deleted audience's changes failed (${stats.failed} of its ${gammaAcked})`)
    // The delivery report shows the reason too.
    const delivery = await rig.api<{ errors: { reason: string; count: number }[] }>(
      `/destinations/${rig.destinationId}/delivery?from=${rig.startedAt - 60_000}&bucket=1d`
    )
    assert.ok(
      delivery.errors.some((e) => e.reason.includes(gone)),
      JSON.stringify(delivery.errors)
    )
    console.log(`RELIABILITY ${JSON.stringify({ test: 'audience-deleted', acked: v.acked, deadLettered: stats.failed, deletedAudienceAcked: gammaAcked })}`)
  } finally {
    await rig.close()
  }
})
