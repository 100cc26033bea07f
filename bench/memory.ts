/** 6. Memory: resident set of `serve` with N events (default 1,000,000) queued; see bench/lib/backlog.ts. */
import { runBacklog } from './lib/backlog.js'
import { fmtInt, fmtMb, isMain, margin, type Measurement } from './lib/util.js'

const TARGET_MB = 300

export async function measureMemory(): Promise<{ measurements: Measurement[] }> {
  const r = await runBacklog()
  const mb = r.rssQueued / 2 ** 20
  return {
    measurements: [
      {
        key: 'memory.rss',
        label: `Memory: serve RSS, ${fmtInt(r.queued)} events queued`,
        value: mb,
        unit: 'MB',
        target: '< 300 MB',
        met: mb < TARGET_MB,
        margin: margin(mb, TARGET_MB, false),
        how: `SQLite, VmRSS once all ${fmtInt(r.events)} ingested events were routed (delivery held: the emulator answers 503 until then); peak during ingest ${fmtMb(r.peakRss)}`
      }
    ]
  }
}

if (isMain(import.meta.url)) {
  const r = await runBacklog()
  console.log(
    `memory: ${fmtInt(r.queued)} queued of ${fmtInt(r.events)}: RSS ${fmtMb(r.rssQueued)} (peak ${fmtMb(r.peakRss)}); ingest ${r.ingestSeconds.toFixed(1)} s`
  )
}
