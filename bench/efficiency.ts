/** 5. Request efficiency: share of mapping requests carrying 10,000 rows while a backlog drains; see bench/lib/backlog.ts. */
import { runBacklog } from './lib/backlog.js'
import { fmtInt, isMain, margin, type Measurement } from './lib/util.js'

export async function measureEfficiency(): Promise<{ measurements: Measurement[] }> {
  const r = await runBacklog()
  const share = r.mappingRequests === 0 ? 0 : (100 * r.fullRequests) / r.mappingRequests
  return {
    measurements: [
      {
        key: 'efficiency.full',
        label: `Efficiency: full 10,000-row requests draining ${fmtInt(r.queued)} queued`,
        value: share,
        unit: '%',
        target: '≥ 99%',
        met: share >= 99,
        margin: margin(share, 99, true),
        how: `${r.fullRequests} of ${r.mappingRequests} mapping requests (requests table); the others carried ${r.partialRowCounts.join(', ') || '—'} rows; drained in ${r.drainSeconds.toFixed(1)} s`
      }
    ]
  }
}

if (isMain(import.meta.url)) {
  const r = await runBacklog()
  console.log(
    `efficiency: ${r.fullRequests}/${r.mappingRequests} full requests (partial: ${r.partialRowCounts.join(', ')}), drain ${r.drainSeconds.toFixed(1)} s, ${fmtInt(r.queued)} queued`
  )
}
