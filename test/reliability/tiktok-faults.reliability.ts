/**
 * TikTok misbehaving while clients keep sending (issue 17.2): a throttling storm, a mix of errors
 * and slowness, connection resets, TikTok down for a while. Each run ends with every acknowledged
 * event delivered once, in order per audience (see fault-traffic.ts `verify`). Durations: short by
 * default, the lengths with RELIABILITY_FULL=1 (fault-rig.ts `faultMs`).
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { at } from '../../src/util/array.js'
import { emuFaults, emuRequests, sleep } from '../helpers/emu-control.js'
import { drained, faultMs, startRig, type Rig } from '../helpers/fault-rig.js'
import { Traffic, verify } from '../helpers/fault-traffic.js'
import { stopAllServes } from '../helpers/serve.js'

after(stopAllServes)

const AUDIENCES = ['alpha', 'beta', 'gamma']

/** Starts traffic, runs `during` (which applies the fault and waits it out), then drains and verifies. */
async function underFault(name: string, during: (rig: Rig) => Promise<Record<string, unknown> | void>, drainMs = 90_000): Promise<Record<string, unknown>> {
  const rig = await startRig({ audiences: AUDIENCES })
  try {
    const traffic = new Traffic({ url: () => rig.serve.url, audiences: AUDIENCES, lanes: 2, perBatch: 40, pauseMs: 100, tag: name }).start()
    await sleep(1000)
    const started = Date.now()
    const figures = (await during(rig)) ?? {}
    const faultS = (Date.now() - started) / 1000
    await emuFaults(rig.emu.url, [])
    await traffic.stop()
    const stopped = Date.now()
    const stats = await drained(rig, drainMs)
    const v = await verify(rig, traffic, stats)
    const report = {
      test: name,
      faultS,
      acked: v.acked,
      drainS: (Date.now() - stopped) / 1000,
      tiktokApplied: v.tiktokRequests,
      refusals: Object.fromEntries(traffic.refusals),
      ...figures
    }
    console.log(`RELIABILITY ${JSON.stringify(report)}`)
    return report
  } finally {
    await rig.close()
  }
}

test('throttling storm: TikTok answers 40100 to every request for a while; the service backs off and then delivers everything once', async () => {
  const stormMs = faultMs(15_000, 60_000)
  const report = await underFault('throttle-storm', async (rig) => {
    const since = (await emuRequests(rig.emu.url, '/segment/mapping/')).at(-1)?.seq ?? 0
    await emuFaults(rig.emu.url, [{ path: '/segment/mapping/', code: 40100 }])
    await sleep(stormMs)
    const throttled = (await emuRequests(rig.emu.url, '/segment/mapping/')).filter((r) => r.seq > since && r.code === 40100).length
    return { throttledRequests: throttled, throttledPerSecond: Math.round((throttled / (stormMs / 1000)) * 10) / 10 }
  })
  // Backoff: three partitions retrying with a 2 s cap make a few requests a second, not a flood.
  assert.ok((report.throttledPerSecond as number) < 10, `the service backed off during the storm (${report.throttledPerSecond}/s)`)
  assert.ok((report.throttledRequests as number) > 0, 'the storm hit the service')
})

test('5% code 50000, 5% HTTP 504 with an HTML body, 2% answers after 10 s: everything delivered once, in order', async () => {
  await underFault('mixed-errors-latency', async (rig) => {
    await emuFaults(rig.emu.url, [
      { path: '/segment/mapping/', code: 50000, rate: 0.05 },
      { path: '/segment/mapping/', httpStatus: 504, rate: 0.05 / 0.95 },
      { path: '/segment/mapping/', latencyMs: 10_000, rate: 0.02 / 0.9 }
    ])
    await sleep(faultMs(20_000, 120_000))
    const rules = (await (await fetch(`${rig.emu.url}/_emulator/faults`)).json()) as {
      rules: { hits: number; code?: number; httpStatus?: number; latencyMs?: number }[]
    }
    return { hits: { code50000: at(rules.rules, 0).hits, http504: at(rules.rules, 1).hits, latency10s: at(rules.rules, 2).hits } }
  })
})

test('connection resets on 20% of requests: nothing lost, nothing applied twice', async () => {
  await underFault('connection-resets', async (rig) => {
    await emuFaults(rig.emu.url, [{ path: '/segment/mapping/', reset: true, rate: 0.2 }])
    await sleep(faultMs(15_000, 60_000))
    const rules = (await (await fetch(`${rig.emu.url}/_emulator/faults`)).json()) as { rules: { hits: number }[] }
    const reset = at(rules.rules, 0)
    assert.ok(reset.hits > 0, 'some connections were reset')
    return { resets: reset.hits }
  })
})

test('TikTok down (connections refused) for a while and back: delivery resumes by itself', async () => {
  await underFault('tiktok-down', async (rig) => {
    await rig.down()
    await sleep(faultMs(20_000, 180_000))
    const pendingWhileDown = (await rig.api<{ pending: number }>('/stats')).pending
    assert.ok(pendingWhileDown > 0, 'events queued up while TikTok was down')
    await rig.up()
    return { pendingWhileDown }
  })
})
