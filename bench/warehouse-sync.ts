/**
 * `node --import tsx bench/warehouse-sync.ts`: the warehouse sync of a 1,000,000-row PostgreSQL
 * table (BENCH_MIRROR_ROWS; generated in a fresh database on TTA_TEST_PG_URL's server), then of the
 * same table after 5% churn (5% of rows deleted, as many inserted), by the compiled CLI
 * (`sync --source`) against the emulator in this process. Prints the figures and writes them as
 * the "Warehouse source" part of docs/BENCHMARKS.md's Mirror sync section. Not part of `npm run bench`.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { first } from '../src/util/array.js'
import { createAudience, startBenchEmulator } from './lib/scenario.js'
import { NODE_FLAGS } from '../test/helpers/cli.js'
import { createPgDatabase } from '../test/helpers/pg.js'
import { builtCli, fmtInt, fmtMb, gitCommit, lastJsonLine, machine, ROOT, runNode, withTempDir } from './lib/util.js'

const ROWS = Number(process.env.BENCH_MIRROR_ROWS || 1_000_000)
const CHURN = 0.05
const TARGET = { seconds: 60, mb: 300 }
const DOC_FILE = join(ROOT, 'docs/BENCHMARKS.md')
export const WAREHOUSE_HEADING = '### Warehouse source (PostgreSQL query)'

interface SyncSummary {
  rows: number
  added: number
  removed: number
  failed: number
  durationMs: number
}

const cli = builtCli()
const loadAtStart = first(loadavg())
const emu = await startBenchEmulator()
const warehouse = await createPgDatabase()
const result = await withTempDir('tta-bench-warehouse-', async (dir) => {
  await warehouse.query('CREATE TABLE members (id INTEGER PRIMARY KEY, email TEXT NOT NULL)')
  await warehouse.query(`INSERT INTO members SELECT i, 'member' || i || '@example.com' FROM generate_series(0, $1::int - 1) AS i`, [ROWS])
  const audienceId = await createAudience(emu.apiUrl, 'Warehouse bench')
  const cfg = join(dir, 'c.json')
  writeFileSync(
    cfg,
    JSON.stringify({
      destinations: [
        {
          name: 'tiktok',
          mode: 'native',
          accessToken: 'emulator-access-token',
          mappings: [
            { name: 'Add', action: 'addToAudience' },
            { name: 'Remove', action: 'removeFromAudience' }
          ],
          audiences: [{ key: 'crm_list', name: 'Warehouse bench', advertiserId: '7000000000000000001', externalAudienceId: audienceId }]
        }
      ],
      sources: [
        {
          name: 'warehouse',
          kind: 'postgres',
          url: warehouse.url,
          query: 'SELECT email FROM members',
          destination: 'tiktok',
          audience: 'crm_list',
          every: '1h'
        }
      ],
      delivery: { windowMs: 10 }
    })
  )
  const sync = async () => {
    const r = await runNode([...NODE_FLAGS, cli, 'sync', '--config', cfg, '--source', 'warehouse', '--db', `sqlite:${join(dir, 'state.db')}`], {
      env: { TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '', SECRET_KEY: 'bench-warehouse', LOG_LEVEL: 'warn' },
      timeoutMs: 30 * 60_000
    })
    if (r.code !== 0) throw new Error(`sync exited ${r.code}: ${r.stderr}`)
    return { summary: lastJsonLine<SyncSummary>(r.stdout), peakRss: r.peakRss }
  }
  const members = async () => {
    const auds = ((await (await fetch(`${emu.url}/_emulator/audiences`)).json()) as { audiences: { audience_id: string; members?: Record<string, number> }[] })
      .audiences
    return Object.values(auds.find((a) => a.audience_id === audienceId)?.members ?? {}).reduce((a, b) => a + b, 0)
  }
  const initial = await sync()
  const afterFirst = await members()
  console.error(`first run: ${JSON.stringify(initial.summary)}, peak RSS ${fmtMb(initial.peakRss)}, emulator holds ${fmtInt(afterFirst)}`)

  const churned = Math.round(ROWS * CHURN)
  await warehouse.query(`DELETE FROM members WHERE id % $1::int = 0`, [Math.round(1 / CHURN)])
  await warehouse.query(`INSERT INTO members SELECT i, 'member' || i || '@example.com' FROM generate_series($1::int, $1::int + $2::int - 1) AS i`, [
    ROWS,
    churned
  ])
  const churn = await sync()
  const afterChurn = await members()
  console.error(`churn run: ${JSON.stringify(churn.summary)}, peak RSS ${fmtMb(churn.peakRss)}, emulator holds ${fmtInt(afterChurn)}`)
  const exact =
    initial.summary.added === ROWS && afterFirst === ROWS && churn.summary.added === churned && churn.summary.removed === churned && afterChurn === ROWS
  if (!exact) throw new Error('the audience does not hold exactly the table')
  return { initial, churn, churned }
})
await emu.close()
await warehouse.drop()

const mc = machine()
const secs = (s: SyncSummary) => s.durationMs / 1000
const churnMb = result.churn.peakRss / 2 ** 20
const verdict = secs(result.churn.summary) < TARGET.seconds && churnMb < TARGET.mb ? 'met' : 'missed'
const part = `${WAREHOUSE_HEADING}

Measured by \`node --import tsx bench/warehouse-sync.ts\` (not part of \`npm run bench\`), kept here by it.

* Date: ${new Date().toISOString()}
* Commit: ${gitCommit()}
* Machine: ${mc.cpu}, ${mc.cores} cores, ${mc.memory} memory, ${mc.os}, Node ${mc.node}
* Load: 1-minute load average ${loadAtStart.toFixed(1)} at start, ${first(loadavg()).toFixed(1)} at the end (other work on the machine slows every figure)

| run | changes sent | time | peak RSS | target | verdict |
|---|---:|---:|---:|---|---|
| first run, ${fmtInt(ROWS)}-row table (empty audience) | ${fmtInt(result.initial.summary.added)} added | ${secs(result.initial.summary).toFixed(1)} s | ${fmtMb(result.initial.peakRss)} | | |
| same table after ${CHURN * 100}% churn | ${fmtInt(result.churn.summary.removed)} removed, ${fmtInt(result.churn.summary.added)} added | ${secs(result.churn.summary).toFixed(1)} s | ${fmtMb(result.churn.peakRss)} | < ${TARGET.seconds} s, < ${TARGET.mb} MB | ${verdict} |

The compiled CLI (\`tiktok-audiences sync --source\`, service state in a SQLite file) reading
\`SELECT email FROM members\` through a server-side cursor (pages of 5,000 rows) from a table
generated in a fresh database on the local PostgreSQL server, against the emulator (no rate limit,
in the benchmark process); time is the run's \`durationMs\`, peak RSS is VmHWM of the sync process.
Afterwards the audience holds exactly ${fmtInt(ROWS)} members each time; the churn run sent exactly
the ${fmtInt(result.churned)} deleted and ${fmtInt(result.churned)} inserted rows.
`
console.log(part)

// This part replaces its previous text at the end of the Mirror sync section (bench/mirror-sync.ts keeps it).
const doc = readFileSync(DOC_FILE, 'utf8')
const section = doc.indexOf('## Mirror sync')
if (section === -1) throw new Error('docs/BENCHMARKS.md has no Mirror sync section (run bench/mirror-sync.ts first)')
const sectionEnd = doc.indexOf('\n## ', section + 1)
const start = doc.indexOf(WAREHOUSE_HEADING, section)
const cut = start !== -1 && (sectionEnd === -1 || start < sectionEnd) ? start : sectionEnd === -1 ? doc.length : sectionEnd + 1
const rest = sectionEnd === -1 ? '' : doc.slice(sectionEnd + 1)
writeFileSync(DOC_FILE, doc.slice(0, cut).trimEnd() + '\n\n' + part + (rest ? '\n' + rest : ''))
console.error('written: docs/BENCHMARKS.md (Mirror sync: Warehouse source)')
