/**
 * `node --import tsx bench/mirror-sync.ts`: mirror sync of a 1,000,000-row member list
 * (BENCH_MIRROR_ROWS), then of the same list with 5% churn (5% removed, as many new), by the
 * compiled CLI against the emulator (in this process, so that its 1,000,000 members are not in the
 * measured child). Prints the figures and writes them as the "Mirror sync" section of
 * docs/BENCHMARKS.md (which `npm run bench` keeps). Not part of `npm run bench`: one run takes minutes.
 */
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { createAudience, startBenchEmulator } from './lib/scenario.js'
import { NODE_FLAGS } from '../test/helpers/cli.js'
import { builtCli, fmtInt, fmtMb, gitCommit, lastJsonLine, machine, ROOT, runNode, withTempDir } from './lib/util.js'

const ROWS = Number(process.env.BENCH_MIRROR_ROWS || 1_000_000)
const CHURN = 0.05
const TARGET = { seconds: 60, mb: 300 }
const DOC_FILE = join(ROOT, 'docs/BENCHMARKS.md')

interface SyncSummary {
  members: number
  added: number
  removed: number
  failed: number
  requests: number
  durationMs: number
}

async function writeList(file: string, ids: Iterable<number>): Promise<void> {
  const out = createWriteStream(file)
  let chunk = 'email\n'
  for (const i of ids) {
    chunk += `member${i}@example.com\n`
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
      chunk = ''
    }
  }
  out.end(chunk)
  await finished(out)
}

function* ids(rows: number, dropEvery: number, extra: number): Generator<number> {
  for (let i = 0; i < rows; i++) if (dropEvery === 0 || i % dropEvery !== 0) yield i
  for (let i = rows; i < rows + extra; i++) yield i
}

const cli = builtCli()
const emu = await startBenchEmulator()
const result = await withTempDir('tta-bench-mirror-', async (dir) => {
  const audienceId = await createAudience(emu.apiUrl, 'Mirror bench')
  const cfg = join(dir, 'c.yaml')
  writeFileSync(
    cfg,
    `destinations:
  - name: tiktok
    mode: native
    accessToken: emulator-access-token
    mappings:
      - { name: Add, action: addToAudience }
      - { name: Remove, action: removeFromAudience }
    audiences:
      - { key: crm_list, name: Mirror bench, advertiserId: "7000000000000000001", externalAudienceId: "${audienceId}" }
delivery: { windowMs: 10 }
`
  )
  const sync = async (file: string) => {
    const r = await runNode(
      [
        ...NODE_FLAGS,
        cli,
        'sync',
        '--config',
        cfg,
        '--destination',
        'tiktok',
        '--audience',
        'crm_list',
        '--members',
        file,
        '--db',
        `sqlite:${join(dir, 'state.db')}`
      ],
      {
        env: { TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '', SECRET_KEY: 'bench-mirror', LOG_LEVEL: 'warn' },
        timeoutMs: 30 * 60_000
      }
    )
    if (r.code !== 0) throw new Error(`sync exited ${r.code}: ${r.stderr}`)
    return { summary: lastJsonLine<SyncSummary>(r.stdout), peakRss: r.peakRss }
  }
  const members = async () => {
    const auds = ((await (await fetch(`${emu.url}/_emulator/audiences`)).json()) as { audiences: { audience_id: string; members?: Record<string, number> }[] })
      .audiences
    return Object.values(auds.find((a) => a.audience_id === audienceId)?.members ?? {}).reduce((a, b) => a + b, 0)
  }

  const first = join(dir, 'first.csv')
  await writeList(first, ids(ROWS, 0, 0))
  const initial = await sync(first)
  const afterFirst = await members()
  console.error(`first sync: ${JSON.stringify(initial.summary)}, peak RSS ${fmtMb(initial.peakRss)}, emulator holds ${fmtInt(afterFirst)}`)

  const churned = Math.round(ROWS * CHURN)
  const second = join(dir, 'second.csv')
  await writeList(second, ids(ROWS, Math.round(1 / CHURN), churned))
  const churn = await sync(second)
  const afterChurn = await members()
  console.error(`churn sync: ${JSON.stringify(churn.summary)}, peak RSS ${fmtMb(churn.peakRss)}, emulator holds ${fmtInt(afterChurn)}`)
  const exact =
    initial.summary.added === ROWS && afterFirst === ROWS && churn.summary.added === churned && churn.summary.removed === churned && afterChurn === ROWS
  if (!exact) throw new Error('the audience does not hold exactly the list')
  return { initial, churn, churned }
})
await emu.close()

const mc = machine()
const secs = (s: SyncSummary) => s.durationMs / 1000
const verdict = (s: number, mb: number) => (s < TARGET.seconds && mb < TARGET.mb ? 'met' : 'missed')
const churnMb = result.churn.peakRss / 2 ** 20
const section = `## Mirror sync

Measured by \`node --import tsx bench/mirror-sync.ts\` (not part of \`npm run bench\`), kept here by it.

* Date: ${new Date().toISOString()}
* Commit: ${gitCommit()}
* Machine: ${mc.cpu}, ${mc.cores} cores, ${mc.memory} memory, ${mc.os}, Node ${mc.node}

| run | changes sent | time | peak RSS | target | verdict |
|---|---:|---:|---:|---|---|
| first sync of ${fmtInt(ROWS)} rows (empty audience) | ${fmtInt(result.initial.summary.added)} added | ${secs(result.initial.summary).toFixed(1)} s | ${fmtMb(result.initial.peakRss)} | | |
| same list with ${CHURN * 100}% churn | ${fmtInt(result.churn.summary.removed)} removed, ${fmtInt(result.churn.summary.added)} added | ${secs(result.churn.summary).toFixed(1)} s | ${fmtMb(result.churn.peakRss)} | < ${TARGET.seconds} s, < ${TARGET.mb} MB | ${verdict(secs(result.churn.summary), churnMb)} |

The compiled CLI (\`tiktok-audiences sync\`, SQLite file) with a CSV of one email per row, against the
emulator (no rate limit, in the benchmark process); time is the \`durationMs\` sync reports (read,
sort, compare, queue, deliver, record), peak RSS is VmHWM of the sync process. Afterwards the
emulator's audience holds exactly ${fmtInt(ROWS)} members each time, and the churn run sent exactly the
${fmtInt(result.churned)} removed and ${fmtInt(result.churned)} new rows.
`
console.log(section)

// The section replaces its previous text; the rest of the document is npm run bench's.
const doc = readFileSync(DOC_FILE, 'utf8')
const start = doc.indexOf('## Mirror sync')
// bench/warehouse-sync.ts's part at the section's end is kept.
const nextSection = start === -1 ? -1 : doc.indexOf('\n## ', start + 1)
const warehousePart = start === -1 ? -1 : doc.indexOf('\n### Warehouse source', start)
const end = warehousePart !== -1 && (nextSection === -1 || warehousePart < nextSection) ? warehousePart : nextSection
const before = start === -1 ? doc.trimEnd() + '\n\n' : doc.slice(0, start)
writeFileSync(DOC_FILE, before + section + (end === -1 ? '' : '\n' + doc.slice(end).replace(/^\n+/, '')))
console.error('written: docs/BENCHMARKS.md (Mirror sync)')
