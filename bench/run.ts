/**
 * `npm run bench [-- pipeline reference limit ingestion efficiency memory scaleout] [--quick] [--render]`:
 * runs the benchmarks (all by default), prints one table, and writes docs/BENCHMARKS.md and
 * docs/benchmarks.svg. A partial run keeps the other rows from the last run (bench/last-results.json).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { at } from '../src/util/array.js'
import { barChartSvg, type Bar } from './lib/chart.js'
import { benchRuns, fmtInt, gitCommit, isQuick, machine, margin, median, ROOT, type Measurement, type TimedRun } from './lib/util.js'

const ALL = ['pipeline', 'reference', 'limit', 'ingestion', 'efficiency', 'memory', 'scaleout'] as const
type Part = (typeof ALL)[number]

const runners: Record<Part, () => Promise<{ measurements: Measurement[] }>> = {
  pipeline: async () => (await import('./pipeline.js')).measurePipeline(),
  reference: async () => (await import('./reference.js')).measureReference(),
  limit: async () => (await import('./limit.js')).measureLimit(),
  ingestion: async () => (await import('./ingestion.js')).measureIngestion(),
  efficiency: async () => (await import('./efficiency.js')).measureEfficiency(),
  memory: async () => (await import('./memory.js')).measureMemory(),
  scaleout: async () => (await import('./scaleout.js')).measureScaleOut()
}

/**
 * Pipeline and reference side by side: their runs alternate (send, reference, send, …), so that both
 * of a pair meet the machine at the same speed (it moved by a quarter within an hour), and the ratio
 * is the median of the pairs' ratios rather than a ratio of medians taken a minute apart.
 */
async function pipelineBesideReference(): Promise<{ measurements: Measurement[] }> {
  const { withPipelineRuns, pipelineMeasurements } = await import('./pipeline.js')
  const { withReferenceRuns, referenceMeasurements } = await import('./reference.js')
  return withPipelineRuns((send) =>
    withReferenceRuns(async (reference) => {
      const ours: TimedRun[] = []
      const theirs: TimedRun[] = []
      for (let r = 0; r < benchRuns(); r++) {
        ours.push(await send(r))
        theirs.push(await reference())
      }
      const ratios = ours.map((o, i) => at(theirs, i).seconds / o.seconds)
      const ratio = median(ratios)
      return {
        measurements: [
          ...pipelineMeasurements(ours).measurements,
          ...referenceMeasurements(theirs).measurements,
          {
            key: 'pipeline.ratio',
            label: 'Pipeline ÷ reference',
            value: ratio,
            unit: '×',
            target: '≥ 2×',
            met: ratio >= 2,
            margin: margin(ratio, 2, true),
            how: `median of ${ratios.length} pairs (${ratios.map((x) => `${x.toFixed(2)}×`).join(', ')}), each a send run and a reference run one after the other; same events and machine`
          }
        ]
      }
    })
  )
}

interface Saved {
  date: string
  commit: string
  machine: ReturnType<typeof machine>
  measurements: Measurement[]
}

const RESULTS_FILE = join(ROOT, 'bench/last-results.json')
const DOC_FILE = join(ROOT, 'docs/BENCHMARKS.md')
const SVG_FILE = join(ROOT, 'docs/benchmarks.svg')

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))
// --render: no measuring, the document re-written from the last results (after a change of its text).
const renderOnly = process.argv.includes('--render')
const unknown = args.filter((a) => !(ALL as readonly string[]).includes(a))
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${ALL.join(', ')}`)
  process.exit(2)
}
const parts: Part[] = renderOnly ? [] : args.length > 0 ? (args as Part[]) : [...ALL]

const fresh: Measurement[] = []
const failures: string[] = []
// Both: their runs alternate (pipelineBesideReference), in the pipeline's place.
const sideBySide = parts.includes('pipeline') && parts.includes('reference')
for (const part of sideBySide ? parts.filter((p) => p !== 'reference') : parts) {
  const t = performance.now()
  const paired = sideBySide && part === 'pipeline'
  const name = paired ? 'pipeline beside reference' : part
  console.error(`— ${name} …`)
  try {
    fresh.push(...(await (paired ? pipelineBesideReference : runners[part])()).measurements)
    console.error(`  ${name} done in ${((performance.now() - t) / 1000).toFixed(0)} s`)
  } catch (err) {
    failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`)
    console.error(`  ${name} FAILED: ${(err as Error).stack}`)
  }
}

// Keep rows of parts not run now from the last run (same machine is the caller's business: the doc says which).
const previous: Saved | undefined = existsSync(RESULTS_FILE) ? (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Saved) : undefined
const byKey = new Map<string, Measurement>()
for (const m of previous?.measurements ?? []) byKey.set(m.key, m)
for (const m of fresh) byKey.set(m.key, m)
// The ratio measured side by side is kept (also when only re-rendering); otherwise it is derived
// below from the two rows.
const pairedRatio = fresh.find((m) => m.key === 'pipeline.ratio') ?? (renderOnly ? byKey.get('pipeline.ratio') : undefined)
byKey.delete('pipeline.ratio')
byKey.delete('limit.fraction')
byKey.delete('ingestion.fraction')

// Derived rows: ours / reference (target ≥ 2×) and ours as a fraction of the floor.
const pipeline = byKey.get('pipeline.eps')
const reference = byKey.get('reference.eps')
const limit = byKey.get('limit.eps')
if (pairedRatio) byKey.set('pipeline.ratio', pairedRatio)
else if (pipeline && reference) {
  const ratio = pipeline.value / reference.value
  byKey.set('pipeline.ratio', {
    key: 'pipeline.ratio',
    label: 'Pipeline ÷ reference',
    value: ratio,
    unit: '×',
    target: '≥ 2×',
    met: ratio >= 2,
    margin: margin(ratio, 2, true),
    how: "events/s of send ÷ events/s of Segment's runtime, same events and machine"
  })
}
if (pipeline && limit) {
  byKey.set('limit.fraction', {
    key: 'limit.fraction',
    label: 'Pipeline as a share of the limit',
    value: (100 * pipeline.value) / limit.value,
    unit: '%',
    how: 'events/s of send ÷ events/s of parse + hash alone'
  })
}
// The ingestion target is absolute, and these machines' speed moves (the limit measured 158k–228k
// events/s within an hour): its share of the limit, from the same run, says how the code fared.
const ingestion = byKey.get('ingestion.sqlite.eps')
if (ingestion && limit) {
  byKey.set('ingestion.fraction', {
    key: 'ingestion.fraction',
    label: 'Ingestion SQLite as a share of the limit',
    value: (100 * ingestion.value) / limit.value,
    unit: '%',
    how: "events/s acknowledged ÷ events/s of parse + hash alone (the machine's speed in the same run)"
  })
}

const order = [
  'pipeline.eps',
  'pipeline.rss',
  'reference.eps',
  'reference.rss',
  'pipeline.ratio',
  'limit.eps',
  'limit.fraction',
  'ingestion.sqlite.eps',
  'ingestion.fraction',
  'ingestion.sqlite.p50',
  'ingestion.sqlite.p99',
  'ingestion.postgres.eps',
  'ingestion.postgres.ratio',
  'ingestion.postgres.p50',
  'ingestion.postgres.p99',
  'ingestion.sqlite.cpu',
  'ingestion.postgres.cpu.serve',
  'ingestion.postgres.cpu.db',
  'ingestion.postgres.wal',
  'ingestion.postgres.trips',
  'efficiency.full',
  'memory.rss',
  'scaleout.1',
  'scaleout.2',
  'scaleout.3',
  'scaleout.1.cpu',
  'scaleout.2.cpu',
  'scaleout.3.cpu'
]
const rows = [...byKey.values()].sort((a, b) => (order.indexOf(a.key) + 1 || 99) - (order.indexOf(b.key) + 1 || 99))

const fmtValue = (m: Measurement) =>
  m.unit === 'events/s'
    ? `${fmtInt(m.value)} events/s`
    : m.unit === '×'
      ? `${m.value.toFixed(2)}×`
      : m.unit === '%'
        ? `${m.value.toFixed(1)}%`
        : m.unit === 'ms'
          ? `${m.value.toFixed(0)} ms`
          : m.unit.endsWith('/request') || m.unit === 'µs/event'
            ? `${m.value.toFixed(1)} ${m.unit}`
            : `${m.value.toFixed(0)} ${m.unit}`
const verdict = (m: Measurement) => (m.target === undefined ? '' : `${m.met ? 'met' : 'MISSED'} (${m.margin})`)

// Re-rendered results keep the date, commit and machine they were measured on.
const saved: Saved =
  renderOnly && previous ? { ...previous, measurements: rows } : { date: new Date().toISOString(), commit: gitCommit(), machine: machine(), measurements: rows }
const table = [
  '| measurement | result | target (SPEC §6) | verdict | how |',
  '|---|---:|---|---|---|',
  ...rows.map((m) => `| ${m.label} | ${fmtValue(m)} | ${m.target ?? ''} | ${verdict(m)} | ${m.how} |`)
].join('\n')

console.log(table)
if (failures.length > 0) console.log(`\nFailed: ${failures.join('; ')}`)

const mc = saved.machine
const doc = `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts) — do not edit by hand.

* Date: ${saved.date}${!renderOnly && rows.some((m) => !m.key.endsWith('.ratio') && !m.key.endsWith('.fraction') && !fresh.some((f) => f.key === m.key)) ? ' (rows not re-run now are from the previous run)' : ''}
* Commit: ${saved.commit}
* Machine: ${mc.cpu}, ${mc.cores} cores, ${mc.memory} memory, ${mc.os}, Node ${mc.node}${isQuick() ? '\n* **Quick run (reduced sizes): not representative.**' : ''}

${table}

![throughput and latency](benchmarks.svg)

## What each number is

1. **Pipeline** — \`tiktok-audiences send\` (child process, the compiled CLI as \`bin/tiktok-audiences.js\` runs it, built first from the current sources) of 100,000 Engage "Audience Entered" events, each
   with an email, a phone and a mobile advertising id; native destination, \`addToAudience\` with its
   default fields, \`normalization: segment\`, SQLite temporary file; to the TikTok emulator (standalone,
   in the benchmark process, no rate limit, request log without bodies). Time is the \`durationMs\` that
   send reports (config, record and route each event into the durable queue, batch, deliver, confirm), not node
   start-up and module loading (the reference's excludes loading its modules too); the route worker is
   started with the command, so its own start-up runs while the main thread loads. Each of \`BENCH_RUNS\` (5)
   runs sends to an empty audience of its own (deleted once its members are counted); the median run counts (the others are listed: on a 2-core
   machine a single run varies by ±8%). Peak RSS is the largest VmHWM of the children.
2. **Reference** — the same events through Segment's published destination
   (\`@segment/action-destinations\` 3.497.0 on \`@segment/actions-core\` 3.170.0, pinned in
   shared/bench-reference) executed by Segment's runtime in a child process:
   \`createTestIntegration(dest).testBatchAction('addToAudience', { events, useDefaultMappings: true })\` in
   batches of 1,000, \`nock\` answering TikTok with \`{code:0}\`. Parsing the events and loading modules are
   not timed; the median of \`BENCH_RUNS\` (5) runs counts, as for the pipeline. The reference does no
   durable queueing at all, so the ratio is conservative for us. Run together (the default), send and
   the reference alternate — send, reference, send, … — and the ratio is the median of the pairs'
   ratios: the machine's speed drifts by minutes, and a pair meets it at the same speed.
3. **Limit** — JSON.parse of each NDJSON line plus SHA-256 of its three identifiers (email normalised the
   Segment way), one thread, lines in memory: what any implementation pays per event.
4. **Ingestion** — \`serve\` (child, the compiled CLI like every \`serve\` below; native destination with its audience connected, delivery running
   to the standalone emulator in the benchmark process, as for the pipeline) receiving \`/v1/batch\`
   requests of 100 events from autocannon in a separate child process, unique messageIds per request.
   Events/s counts acknowledged events; latencies are per request. PostgreSQL on 127.0.0.1 in a fresh
   database (dropped afterwards). \`BENCH_INGEST_RUNS\` (3) runs per database, SQLite and PostgreSQL in
   turn, each with a fresh \`serve\`, database and emulator; each figure is the median of the runs
   (single runs ranged 40–63k events/s within an hour). Target: SQLite on 2 cores. The target is absolute while these
   machines' speed moves, so SQLite's events/s is also given as a share of the limit of the same run.
5. **Efficiency** — \`serve\` (SQLite; the standalone emulator in the benchmark process, so that TikTok's
   request log is not in serve's memory) ingests the backlog while the emulator answers every
   mapping request with HTTP 503 (retried with backoff, at most 1 s), so nothing is delivered; once
   everything is queued the fault is lifted and the share of \`/segment/mapping/\` requests delivered
   during the drain that carry 10,000 rows is read from the service's \`requests\` table. The last
   request of the partition carries the remainder by nature.
6. **Memory** — the same run: VmRSS of \`serve\` once all 1,000,000 events are routed and queued, its
   route worker included (it runs with a 24 MB young generation; without route workers,
   \`TTA_ROUTE_WORKERS=0\`, an earlier run measured 224 MB).
7. **Scale-out** — 1, 2 and 3 \`serve\` processes on one PostgreSQL database, one shared standalone
   emulator; 100,000 events over 6 audiences posted round-robin; events/s until the emulator holds every one.
   A warm-up of 60,000 events comes first and is not counted: the figures are steady state, not each
   process's pool connecting (a backend each, its caches, each prepared statement's first 5 runs, which
   PostgreSQL plans afresh). \`BENCH_SCALEOUT_RUNS\` (3) rounds of 1, 2 and 3 processes in turn; each
   figure is the median over the rounds, the 2-process verdict the median of the rounds' ratios to 1.
   On a 2-core machine the processes, PostgreSQL, the poster and the emulator share the same two cores.

Sizes: \`BENCH_EVENTS\` (1–3), \`BENCH_RUNS\` (1–2), \`BENCH_INGEST_SECONDS\`, \`BENCH_INGEST_CONNECTIONS\`, \`BENCH_INGEST_RUNS\`, \`BENCH_BACKLOG_EVENTS\`,
\`BENCH_SCALEOUT_EVENTS\`, \`BENCH_SCALEOUT_WARMUP\`, \`BENCH_SCALEOUT_PROCESSES\` (e.g. \`1,2\`), \`BENCH_SCALEOUT_RUNS\`; \`--quick\` divides the defaults. Run a subset: \`npm run bench -- pipeline reference\`; re-write this document from the last
results (after a change of its text): \`npm run bench -- --render\`.
`
// Sections measured apart are carried over as they stand: Mirror sync (bench/mirror-sync.ts) and
// the PostgreSQL cost breakdown (per-event counts from BENCH_VERBOSE runs, written by hand).
const previousDoc = existsSync(DOC_FILE) ? readFileSync(DOC_FILE, 'utf8') : ''
const carried = ['## PostgreSQL: where the time goes', '## Mirror sync']
  .map((title) => {
    const at = previousDoc.indexOf(title)
    const end = at === -1 ? -1 : previousDoc.indexOf('\n## ', at + 1)
    return at === -1 ? '' : previousDoc.slice(at, end === -1 ? undefined : end + 1).trimEnd()
  })
  .filter((section) => section !== '')
writeFileSync(DOC_FILE, carried.length > 0 ? `${doc.trimEnd()}\n\n${carried.join('\n\n')}\n` : doc)
writeFileSync(RESULTS_FILE, JSON.stringify(saved, null, 2) + '\n')

const value = (key: string) => byKey.get(key)?.value
const throughput: Bar[] = []
const latency: Bar[] = []
const addBar = (list: Bar[], key: string, label: string, highlight = false) => {
  const v = value(key)
  const m = byKey.get(key)
  if (v !== undefined && m) list.push({ label, value: v, text: fmtValue(m), highlight })
}
addBar(throughput, 'limit.eps', 'limit: parse + hash')
addBar(throughput, 'pipeline.eps', 'pipeline: send (ours)', true)
addBar(throughput, 'reference.eps', "reference: Segment's runtime")
addBar(throughput, 'ingestion.sqlite.eps', 'ingestion /v1/batch, SQLite', true)
addBar(throughput, 'ingestion.postgres.eps', 'ingestion /v1/batch, PostgreSQL', true)
for (const n of [1, 2, 3]) addBar(throughput, `scaleout.${n}`, `scale-out: ${n} process${n > 1 ? 'es' : ''}, PostgreSQL`)
addBar(latency, 'ingestion.sqlite.p50', 'ack P50, SQLite')
addBar(latency, 'ingestion.sqlite.p99', 'ack P99, SQLite', true)
addBar(latency, 'ingestion.postgres.p50', 'ack P50, PostgreSQL')
addBar(latency, 'ingestion.postgres.p99', 'ack P99, PostgreSQL', true)
writeFileSync(
  SVG_FILE,
  barChartSvg(`tiktok-audiences benchmarks — ${mc.cores} cores, Node ${mc.node}, ${saved.commit}`, [
    { title: 'Throughput (events/s)', bars: throughput, target: { value: 50_000, label: 'ingestion target 50,000' } },
    { title: 'Ingestion acknowledgement latency (ms, per 100-event request)', bars: latency, target: { value: 50, label: 'P99 target 50 ms' } }
  ])
)
console.error(`written: docs/BENCHMARKS.md, docs/benchmarks.svg`)
if (failures.length > 0) process.exitCode = 1
