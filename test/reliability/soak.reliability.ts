/**
 * Soak (issue 17.5): a constant load for a while (60 s by default, 5 minutes with
 * RELIABILITY_FULL=1, RELIABILITY_SOAK_MS overrides) with delivery faults injected all along (5%
 * code 50000, 5% HTTP 504, 1% answers after 3 s). serve's resident memory (/proc/PID/status
 * VmRSS) and queue depth (/api/stats pending) are sampled every few seconds; after a warm-up, the
 * last third's means must stay within a bound of the first third's, and in the end everything is
 * delivered once.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, test } from 'node:test'
import { emuFaults, sleep } from '../helpers/emu-control.js'
import { drained, faultMs, startRig } from '../helpers/fault-rig.js'
import { Traffic, verify } from '../helpers/fault-traffic.js'
import { stopAllServes } from '../helpers/serve.js'

after(stopAllServes)

const AUDIENCES = ['alpha', 'beta', 'gamma', 'delta']
const SOAK_MS = Number(process.env.RELIABILITY_SOAK_MS ?? faultMs(60_000, 300_000))
const SAMPLE_MS = faultMs(2000, 5000)
/** The first part of the run is warm-up (JIT, caches, SQLite page cache): not compared. */
const WARM_UP = 0.2

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const round = (x: number) => Math.round(x * 10) / 10

test(`soak: constant load with delivery faults for ${SOAK_MS / 1000} s — memory and queue depth stay flat, everything delivered`, async () => {
  const rig = await startRig({ audiences: AUDIENCES, batchSize: 500 })
  try {
    await emuFaults(rig.emu.url, [
      { path: '/segment/mapping/', code: 50000, rate: 0.05 },
      { path: '/segment/mapping/', httpStatus: 504, rate: 0.05 / 0.95 },
      { path: '/segment/mapping/', latencyMs: 3000, rate: 0.01 / 0.9 }
    ])
    const traffic = new Traffic({ url: () => rig.serve.url, audiences: AUDIENCES, people: 2000, lanes: 2, perBatch: 50, pauseMs: 100, tag: 'soak' }).start()
    const samples: { t: number; rssMb: number; pending: number; acked: number }[] = []
    const started = Date.now()
    while (Date.now() - started < SOAK_MS) {
      await sleep(SAMPLE_MS)
      const stats = await rig.api<{ pending: number }>('/stats')
      samples.push({ t: (Date.now() - started) / 1000, rssMb: rssMb(rig.serve.pid), pending: stats.pending, acked: traffic.acked.size })
    }
    await emuFaults(rig.emu.url, [])
    await traffic.stop()
    const stats = await drained(rig, 60_000)
    const v = await verify(rig, traffic, stats)

    const measured = samples.slice(Math.floor(samples.length * WARM_UP))
    const third = Math.max(1, Math.floor(measured.length / 3))
    const first = measured.slice(0, third)
    const last = measured.slice(-third)
    const figures = {
      test: 'soak',
      seconds: SOAK_MS / 1000,
      acked: v.acked,
      eventsPerSecond: Math.round(v.acked / (SOAK_MS / 1000)),
      rssMb: {
        firstThird: round(mean(first.map((s) => s.rssMb))),
        lastThird: round(mean(last.map((s) => s.rssMb))),
        max: round(Math.max(...samples.map((s) => s.rssMb)))
      },
      pending: {
        firstThird: Math.round(mean(first.map((s) => s.pending))),
        lastThird: Math.round(mean(last.map((s) => s.pending))),
        max: Math.max(...samples.map((s) => s.pending))
      },
      samples: samples.map((s) => [Math.round(s.t), Math.round(s.rssMb), s.pending])
    }
    console.log(`RELIABILITY ${JSON.stringify(figures)}`)
    assert.ok(figures.rssMb.lastThird <= figures.rssMb.firstThird * 1.25 + 10, `resident memory stayed flat: ${JSON.stringify(figures.rssMb)}`)
    // The queue keeps up: its depth does not grow from the first third to the last.
    assert.ok(figures.pending.lastThird <= figures.pending.firstThird * 2 + 2000, `queue depth stayed flat: ${JSON.stringify(figures.pending)}`)
  } finally {
    await rig.close()
  }
})
