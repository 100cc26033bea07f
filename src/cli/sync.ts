/**
 * `tiktok-audiences sync`: mirror sync (SPEC §3.1) of a member file into an audience — the list
 * streams through src/mirror/mirror-sync.ts, which sends only the changes since the last sync —
 * or (`--source NAME`) one run of a warehouse source of the config (src/warehouse/).
 */
import { mirrorSync, type MirrorProgress } from '../mirror/mirror-sync.js'
import { listDestinations } from '../store/sql/config.js'
import { fileMemberSource } from './members.js'
import { printError, runOneShot } from './one-shot.js'
import { ProgressLine } from './progress.js'
import { getWarehouseSync, listWarehouseSyncs, SKIPPED_MESSAGE, startRun } from '../warehouse/index.js'

export interface SyncOptions {
  config: string
  destination: string
  audience: string
  members: string
  db?: string
}

export interface SourceSyncOptions {
  config: string
  source: string
  db?: string
}

/** One run of a warehouse source, recorded like a scheduled one; the same summary as a file sync. */
export async function runSourceSync(opts: SourceSyncOptions): Promise<number> {
  const started = Date.now()
  return runOneShot({ config: opts.config, db: opts.db, database: 'default' }, async ({ store, pipeline, requests, applied }) => {
    const sync = await getWarehouseSync(store.db, store.secrets, opts.source)
    if (!sync) {
      const known = (await listWarehouseSyncs(store.db, store.secrets)).map((s) => s.name)
      printError(`--source: no warehouse source (kind: postgres) named "${opts.source}" in the database${known.length ? ` (known: ${known.join(', ')})` : ''}`)
      return 2
    }
    const line = new ProgressLine()
    const { run, done } = await startRun(sync, {
      store,
      pipeline,
      startedBy: 'cli',
      onRowProblem: (at, message) => {
        line.clear()
        printError(`${opts.source}: row ${at}: ${message}`)
      },
      onProgress: line.enabled ? (p) => line.update(progressText(p)) : undefined,
      warn: printError
    })
    if (run.status === 'skipped') {
      printError(`${opts.source}: ${SKIPPED_MESSAGE}`)
      process.stdout.write(JSON.stringify({ run: run.id, status: run.status }) + '\n')
      return 1
    }
    const { run: finished, summary: s } = await done
    line.clear()
    if (finished.error) printError(`${opts.source}: ${finished.error}`)
    const summary = {
      members: s?.members ?? 0,
      rows: s?.rows ?? finished.rowsRead,
      invalid: s?.invalid ?? 0,
      added: s?.added ?? 0,
      removed: s?.removed ?? 0,
      unchanged: s?.unchanged ?? 0,
      failed: s?.failed ?? 0,
      requests: requests(),
      durationMs: Date.now() - started,
      run: finished.id,
      status: finished.status
    }
    process.stdout.write(JSON.stringify(summary) + '\n')
    return finished.status !== 'succeeded' || summary.invalid > 0 || applied.problems.length > 0 ? 1 : 0
  })
}

export async function runSync(opts: SyncOptions): Promise<number> {
  const started = Date.now()
  return runOneShot({ config: opts.config, db: opts.db, database: 'default' }, async ({ store, pipeline, requests, applied }) => {
    const dest = (await listDestinations(store.db, store.secrets)).find((d) => d.name === opts.destination)
    if (!dest || dest.sourceId === null) {
      printError(`--destination: no destination named "${opts.destination}" in the config`)
      return 2
    }
    const line = new ProgressLine()
    const s = await mirrorSync({
      store,
      pipeline,
      destination: { ...dest, sourceId: dest.sourceId },
      audience: opts.audience,
      source: fileMemberSource(opts.members),
      onRowProblem: (at, message) => {
        line.clear()
        printError(`${opts.members}:${at}: ${message}`)
      },
      onProgress: line.enabled ? (p) => line.update(progressText(p)) : undefined
    })
    line.clear()
    if (s.failed > 0) printError(`${s.failed} change(s) were not delivered (${s.failureReasons.join(', ')}); they stay pending for the next sync`)
    const summary = {
      members: s.members,
      rows: s.rows,
      invalid: s.invalid,
      added: s.added,
      removed: s.removed,
      unchanged: s.unchanged,
      failed: s.failed,
      requests: requests(),
      durationMs: Date.now() - started
    }
    process.stdout.write(JSON.stringify(summary) + '\n')
    return s.failed > 0 || s.invalid > 0 || applied.problems.length > 0 ? 1 : 0
  })
}

const n = (x: number) => x.toLocaleString('en-US')

function progressText(p: MirrorProgress): string {
  switch (p.phase) {
    case 'reading':
      return `sync: reading the list… ${n(p.rows)} rows`
    case 'comparing':
      return `sync: ${n(p.rows)} rows read; comparing with the last sync…`
    case 'queueing':
      return `sync: ${n(p.rows)} rows; queueing changes ${n(p.queued)} / ${n(p.changes)}`
    case 'delivering':
      return `sync: ${n(p.changes)} changes queued; waiting for TikTok, ${n(p.pending)} to deliver`
    case 'recording':
      return `sync: recording outcomes ${n(p.recorded)} / ${n(p.changes)}`
  }
}
