/**
 * 3. Limit: the floor any implementation pays per event — JSON.parse of its NDJSON line and SHA-256
 * of its three identifiers (email normalised the Segment way, phone and mobile id as given), in a
 * tight single-threaded loop over lines already in memory.
 */
import { hash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeEventsNdjson } from './lib/scenario.js'
import { fmtInt, isMain, size, withTempDir, type Measurement } from './lib/util.js'

// The fastest SHA-256 Node offers (one-shot crypto.hash, as the pipeline uses): the floor, not a handicap.
const sha256 = (s: string) => hash('sha256', s, 'hex')

/** Segment's email normalisation: drop the +tag and the local part's dots, lowercase. */
function segmentEmail(email: string): string {
  const at = email.lastIndexOf('@')
  if (at < 0) return email.toLowerCase()
  const local = email.slice(0, at).split('+')[0]!.replaceAll('.', '')
  return `${local}${email.slice(at)}`.toLowerCase()
}

export async function measureLimit(): Promise<{ eventsPerSecond: number; measurements: Measurement[] }> {
  const events = size('BENCH_EVENTS', 100_000)
  return withTempDir('tta-bench-limit-', async (dir) => {
    const file = join(dir, 'events.ndjson')
    await writeEventsNdjson(file, events, { externalAudienceId: '7123456789012345678' })
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
    let sink = 0
    const pass = () => {
      for (const line of lines) {
        const e = JSON.parse(line) as { context: { traits: { email: string; phone: string }; device: { advertisingId: string } } }
        sink += sha256(segmentEmail(e.context.traits.email)).length + sha256(e.context.traits.phone).length + sha256(e.context.device.advertisingId).length
      }
    }
    pass() // warm-up
    const started = performance.now()
    pass()
    const seconds = (performance.now() - started) / 1000
    if (sink === 0) throw new Error('unreachable')
    const eventsPerSecond = events / seconds
    return {
      eventsPerSecond,
      measurements: [
        {
          key: 'limit.eps',
          label: 'Limit: JSON.parse + 3 × SHA-256 per event',
          value: eventsPerSecond,
          unit: 'events/s',
          how: 'one thread, lines in memory, second pass timed'
        }
      ]
    }
  })
}

if (isMain(import.meta.url)) {
  const { eventsPerSecond } = await measureLimit()
  console.log(`limit: ${fmtInt(eventsPerSecond)} events/s`)
}
