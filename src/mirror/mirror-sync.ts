/**
 * Mirror sync (SPEC §3.1): given the full current member list of an audience, send only the
 * difference to the last synced list — removals first, so that a member whose identifiers changed
 * is re-added after the old row is deleted — as Audience Exited / Audience Entered events through
 * the destination's own mappings. The synced state (hashes only) advances only for what TikTok
 * confirmed.
 *
 * Bounded memory at any list size: the rows stream from their source and are sorted by member key
 * on disk (runs of 100,000, merged); the difference is a merge of that with the synced list, read
 * from the database in key order a page at a time; the changes go to two files, which are queued,
 * then confirmed, a page at a time. Memory holds one sort run and a few pages.
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processIdentifier, type IdentifierKind } from '../destination/identifiers.js'
import { audienceMembershipEvent } from '../destination/membership.js'
import { checkEvent, type SegmentEvent } from '../pipeline/event.js'
import type { Pipeline } from '../pipeline/index.js'
import type { Store } from '../store/index.js'
import type { Destination } from '../store/model.js'
import { outcomesByMessageId } from '../store/sql/changes.js'
import { countDeliverablePending } from '../store/sql/partitions.js'
import { mirrorPage, updateMirror, type MirrorMember } from '../store/sql/mirror.js'
import { ExternalSort, LineWriter, readLines } from './sorted-lines.js'
import type { MemberSource } from './source.js'

type MirrorChange = 'add' | 'remove'

export interface MirrorProgress {
  phase: 'reading' | 'comparing' | 'queueing' | 'delivering' | 'recording'
  /** Rows read from the source so far. */
  rows: number
  /** Changes to send (known once the lists are compared). */
  changes: number
  /** Changes queued so far. */
  queued: number
  /** Changes not delivered yet (while delivering). */
  pending: number
  /** Changes whose outcome was recorded so far. */
  recorded: number
}

export interface MirrorSummary {
  /** Distinct members of the new list. */
  members: number
  rows: number
  invalid: number
  added: number
  removed: number
  unchanged: number
  /** Changes TikTok did not confirm: they stay pending for the next sync. */
  failed: number
  /** Each distinct outcome of a change that was not delivered. */
  failureReasons: string[]
}

export interface MirrorSyncRun {
  store: Store
  /** A started pipeline of the store. */
  pipeline: Pipeline
  destination: Pick<Destination, 'id' | 'name' | 'normalization' | 'defaultPhoneRegion'> & { sourceId: number }
  audience: string
  source: MemberSource
  /** A row that cannot be synced (it is skipped and counted as invalid). */
  onRowProblem: (line: number, message: string) => void
  onProgress?: (p: MirrorProgress) => void
}

const KINDS: IdentifierKind[] = ['email', 'phone', 'advertising_id']
/** Changes queued (one ingestion request) or confirmed per page; synced members read per query. */
const PAGE = 2000
const MIRROR_PAGE = 5000
/** Ingestion requests in flight at once: enough for group commit to fill its transactions. */
const IN_FLIGHT = 3

export async function mirrorSync(run: MirrorSyncRun): Promise<MirrorSummary> {
  const { store, pipeline, destination: dest, audience } = run
  const db = store.db
  const progress: MirrorProgress = { phase: 'reading', rows: 0, changes: 0, queued: 0, pending: 0, recorded: 0 }
  const report = () => run.onProgress?.(progress)
  const policy = { policy: dest.normalization, defaultPhoneRegion: dest.defaultPhoneRegion ?? undefined }
  const dir = await mkdtemp(join(tmpdir(), 'tiktok-audiences-sync-'))
  try {
    // 1. The new list, as the hashes TikTok would receive (the key of a member is its hashes),
    // sorted by member key on disk.
    let invalid = 0
    const list = new ExternalSort(dir)
    for await (const item of run.source.rows()) {
      if (++progress.rows % 10_000 === 0) report()
      if ('error' in item) {
        invalid++
        run.onRowProblem(item.line, item.error)
        continue
      }
      const hashes = KINDS.map((k) => processIdentifier(k, item.member[k], true, policy))
      if (hashes.every((h) => h.hash === null)) {
        invalid++
        const rejected = hashes.map((h, i) => (h.status === 'rejected' ? `${KINDS[i]}: ${h.reason}` : '')).filter(Boolean)
        run.onRowProblem(item.line, `no usable identifier${rejected.length ? ` (${rejected.join('; ')})` : ''}`)
        continue
      }
      const [email = null, phone = null, advertisingId = null] = hashes.map((h) => h.hash)
      const memberKey = createHash('sha256')
        .update(`${email ?? ''}|${phone ?? ''}|${advertisingId ?? ''}`)
        .digest('hex')
      await list.add(toLine({ memberKey, email, phone, advertisingId }))
    }

    // 2. The difference: a merge of the sorted list with the synced one, read in key order.
    progress.phase = 'comparing'
    report()
    const adds = new LineWriter(join(dir, 'add.txt'))
    const removes = new LineWriter(join(dir, 'remove.txt'))
    let members = 0
    const synced = syncedInKeyOrder(store, dest.id, audience)[Symbol.asyncIterator]()
    let old = await nextMember(synced)
    for await (const line of list.sorted()) {
      members++
      const key = line.slice(0, KEY_LENGTH)
      while (old && old.memberKey < key) {
        await removes.write(toLine(old))
        old = await nextMember(synced)
      }
      if (old && old.memberKey === key) old = await nextMember(synced)
      else await adds.write(line)
    }
    for (; old; old = await nextMember(synced)) await removes.write(toLine(old))
    await Promise.all([adds.close(), removes.close()])
    progress.changes = adds.count + removes.count
    const files = { remove: removes.file, add: adds.file }

    // 3. Queue removals, then (once every removal is committed: PostgreSQL commits concurrent
    // requests in any order) additions, a page per ingestion request.
    progress.phase = 'queueing'
    report()
    const ids = runIds(dest.name, audience, randomUUID())
    for (const change of ['remove', 'add'] as const) {
      const inFlight = new Set<Promise<void>>()
      let failure: { error: unknown } | undefined
      for await (const page of pages(files[change])) {
        const events = page.map((m) => memberEvent(ids, m, change))
        const p: Promise<void> = pipeline
          .ingest(dest.sourceId, events)
          .then(
            () => {
              progress.queued += events.length
              report()
            },
            (error: unknown) => void (failure ??= { error })
          )
          .finally(() => inFlight.delete(p))
        inFlight.add(p)
        if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
        if (failure) break
      }
      await Promise.all(inFlight)
      if (failure) throw failure.error
    }
    pipeline.flushAll()

    // 4. Wait for every change's outcome.
    progress.phase = 'delivering'
    report()
    const ticker = run.onProgress
      ? setInterval(
          () =>
            void countDeliverablePending(db).then(
              (n) => ((progress.pending = n), report()),
              () => {}
            ),
          500
        )
      : undefined
    try {
      await pipeline.whenIdle()
    } finally {
      clearInterval(ticker)
    }

    // 5. Record what TikTok confirmed, page by page.
    progress.phase = 'recording'
    progress.pending = 0
    report()
    const confirmed = { add: 0, remove: 0 }
    const reasons = new Set<string>()
    for (const change of ['remove', 'add'] as const) {
      for await (const page of pages(files[change])) {
        const outcomes = await outcomesByMessageId(
          db,
          dest.sourceId,
          page.map((m) => messageId(ids, m, change))
        )
        const ok: MirrorMember[] = []
        for (const m of page) {
          const outcome = outcomes.get(messageId(ids, m, change))
          if (outcome === 'delivered') ok.push(m)
          else reasons.add(outcome ?? 'not recorded')
        }
        if (change === 'add') await updateMirror(db, dest.id, audience, ok, [], Date.now())
        else
          await updateMirror(
            db,
            dest.id,
            audience,
            [],
            ok.map((m) => m.memberKey),
            Date.now()
          )
        confirmed[change] += ok.length
        progress.recorded += page.length
        report()
      }
    }
    return {
      members,
      rows: progress.rows,
      invalid,
      added: confirmed.add,
      removed: confirmed.remove,
      unchanged: members - adds.count,
      failed: progress.changes - confirmed.add - confirmed.remove,
      failureReasons: [...reasons]
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const KEY_LENGTH = 64

/** A member as a line of the sorted files: its key first, so that lines sort by key. */
function toLine(m: MirrorMember): string {
  return `${m.memberKey},${m.email ?? ''},${m.phone ?? ''},${m.advertisingId ?? ''}`
}

function fromLine(line: string): MirrorMember {
  const [memberKey = '', email, phone, advertisingId] = line.split(',')
  return { memberKey, email: email || null, phone: phone || null, advertisingId: advertisingId || null }
}

/** A file of member lines, a page at a time. */
async function* pages(file: string): AsyncGenerator<MirrorMember[]> {
  let page: MirrorMember[] = []
  for await (const line of readLines(file)) {
    page.push(fromLine(line))
    if (page.length >= PAGE) {
      yield page
      page = []
    }
  }
  if (page.length > 0) yield page
}

/** The audience's synced members in key order, read a page at a time. */
async function* syncedInKeyOrder(store: Store, destinationId: number, audience: string): AsyncGenerator<MirrorMember> {
  let after = ''
  for (;;) {
    const page = await mirrorPage(store.db, destinationId, audience, after, MIRROR_PAGE)
    if (page.length === 0) return
    for (const m of page) {
      // The merge is only right if the database orders keys as JavaScript does.
      if (!(m.memberKey > after)) throw new Error(`internal: the synced list came out of key order (${after} then ${m.memberKey})`)
      yield m
      after = m.memberKey
    }
  }
}

async function nextMember(it: AsyncIterator<MirrorMember>): Promise<MirrorMember | undefined> {
  const r = await it.next()
  return r.done ? undefined : r.value
}

interface RunIds {
  destination: string
  audience: string
  /** What every message id of the run starts with (the audience's hash). */
  prefix: string
  /** What every message id of the run ends with. */
  run: string
}

function runIds(destination: string, audience: string, runId: string): RunIds {
  return {
    destination,
    audience,
    prefix: `mirror:${createHash('sha256').update(`${destination}|${audience}`).digest('hex').slice(0, 12)}`,
    run: runId.slice(0, 8)
  }
}

function messageId(r: RunIds, m: MirrorMember, change: MirrorChange): string {
  return `${r.prefix}:${m.memberKey.slice(0, 32)}:${change === 'add' ? 'in' : 'out'}:${r.run}`
}

/** A member change as the Engage event the destination's mappings already understand (pre-hashed ids). */
function memberEvent(r: RunIds, m: MirrorMember, change: MirrorChange): SegmentEvent {
  const check = checkEvent(
    audienceMembershipEvent({
      audienceKey: r.audience,
      destination: r.destination,
      member: change === 'add',
      ids: m,
      userId: `mirror-${m.memberKey.slice(0, 16)}`,
      messageId: messageId(r, m, change),
      origin: { namespace: 'mirror-sync', idPrefix: 'mirror' }
    })
  )
  if (!check.ok) throw new Error(`internal: mirror event rejected: ${check.error}`)
  return check.event
}
