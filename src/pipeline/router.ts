/**
 * The router: records accepted events and turns them into queued changes in the same
 * transaction — each destination's audience connections and mappings applied, identifiers hashed —
 * so an event is routed exactly once, and what is acknowledged is already queued. Concurrent
 * requests share one transaction (group commit, see Pipeline.ingest). Routing itself
 * (route-batch.ts) needs no database: it runs before the transaction, or in a route worker.
 *
 * The loops here walk route-batch's columns, all of one length, below their count: their `!` index
 * reads are in range by construction.
 */
/* eslint-disable @typescript-eslint/no-non-null-assertion */
import type { Store } from '../store/index.js'
import { configVersion, recordAudiencesSeen } from '../store/sql/config.js'
import { insertEventRecords } from '../store/sql/events.js'
import { commitInOneStatement, ConfigChangedError, EventIdBlock } from '../store/sql/ingest-postgres.js'
import { storeEventSamples } from '../store/sql/event-samples.js'
import { addDrops, type DropDelta } from '../store/sql/identifier-drops.js'
import { addFilteredTotals, addTotals, type FilteredDelta, type TotalsDelta } from '../store/sql/outcome-totals.js'
import { addPending, ensurePartitions } from '../store/sql/partitions.js'
import { insertChanges, type NewChange } from '../store/sql/changes.js'
import { insertPacks, type NewPack } from '../store/sql/queue-packs.js'
import { PackBody, parseBatchKey, type SerializedIds } from '../store/queue-format.js'
import { recordSentIdentifiers, type SentIdentifier } from '../store/sql/sent-identifiers.js'
import { queueRemovalsOfPerson } from '../store/sql/removals.js'
import type { AutoConnector } from './auto-connect.js'
import type { FilteredCounters } from './filtered.js'
import type { QualityCounters } from './quality.js'
import { CHOICE_FLAG, CHOICES, routeBatch, STATUSES, type AcceptedEvent, type RoutedBatch } from './route-batch.js'
import type { RoutingTable } from './routing-table.js'
import { droppedOf, filteredOf, missingPartitions, queueKeysOf, recordAdd, recordsOf, versionOf, type QueueKeys } from './routed-columns.js'
import { DESTINATION_DEFAULTS } from '../util/defaults.js'

export type { AcceptedEvent } from './route-batch.js'

export interface RouterOptions {
  windowMs: number
  /** After a commit that queued changes: when each partition it queued to is ready (delivery wakes then). */
  onQueued?: (readyAt: number[]) => void
}

/** Routings of one group before its commit gives up when the configuration keeps changing (the sender retries). */
export const MAX_ROUTINGS = 3

type Seen = Map<string, { sourceId: number; key: string; name: string | null; at: number }>

export class Router {
  /**
   * Partition ids by key (`<destination>|…`), valid for the configuration they were found with: a
   * deleted destination's partitions are deleted with it, and SQLite gives the next destination
   * the same id — a kept entry would queue that one's changes into a partition that no longer is.
   * Replaced, not cleared: a commit in flight keeps the map it started with.
   */
  private partitionIds = new Map<string, number>()
  private partitionIdsVersion = -1
  private readonly audienceSeenAt = new Map<string, number>()

  constructor(
    private readonly store: Store,
    private readonly table: RoutingTable,
    private readonly quality: QualityCounters,
    private readonly filteredCounts: FilteredCounters,
    private readonly opts: RouterOptions,
    private readonly connector?: AutoConnector
  ) {}

  /** Routes `items` with the current configuration (audiences connected first where configured). */
  async route(items: AcceptedEvent[]): Promise<RoutedBatch> {
    await this.table.refreshForRouting()
    // Creating TikTok audiences is a network call: before the transaction, not inside it.
    if (this.connector?.active) await this.connector.prepare(items)
    return routeBatch(this.table, items)
  }

  /**
   * Records routed batches in one transaction: their events, and the changes of those that were new
   * (what the insert finds to be a re-sent messageId is dropped). Per item, in order, whether it was new.
   */
  async commit(batches: RoutedBatch[], checkVersion = false): Promise<boolean[]> {
    if (this.table.loadedVersion !== this.partitionIdsVersion) {
      this.partitionIds = new Map()
      this.partitionIdsVersion = this.table.loadedVersion
    }
    const known = this.partitionIds
    // PostgreSQL with checkVersion (the caller can route again): the batches' configuration must be
    // the stored one, checked in the commit (RoutingTable.checkedAtCommit: no read per request).
    const pg = this.store.db.dialect === 'postgres'
    const version = pg && checkVersion ? versionOf(batches) : -1
    if (pg) {
      const isNew = await this.commitInOneStatement(batches, known, version)
      if (isNew) return isNew
    }
    let filtered: FilteredDelta[] = []
    // Partitions created and audiences recorded in the transaction are remembered only once it
    // commits (a rollback undoes them).
    const created = new Map<string, number>()
    const seen: Seen = new Map()
    let drops: DropDelta[] = []
    const readyAt: number[] = []
    const isNew = await this.store.db.tx(async (db) => {
      created.clear()
      seen.clear()
      readyAt.length = 0
      if (version >= 0 && (await configVersion(db)) !== version) throw new ConfigChangedError()
      const now = Date.now()
      // One insert for the whole group, also when its requests were routed apart (route workers: a
      // batch per request), as for requests routed together here.
      const ids = await insertEventRecords(db, recordsOf(batches))
      const { received, samples } = this.recorded(batches, ids, now, seen)
      const failed = await this.queue(db, batches, ids, now, known, created, readyAt)
      filtered = filteredOf(batches, ids)
      await addFilteredTotals(db, filtered, now)
      await storeEventSamples(db, samples)
      drops = droppedOf(batches, ids)
      await addDrops(db, drops, now)
      await addTotals(
        db,
        [
          ...[...received].map(([scopeId, n]): TotalsDelta => ({ scope: 'source', scopeId, received: n })),
          ...[...failed].map(([scopeId, n]): TotalsDelta => ({ scope: 'destination', scopeId, failed: n }))
        ],
        now
      )
      if (seen.size > 0)
        await recordAudiencesSeen(
          db,
          [...seen.values()].sort((a, b) => a.key.localeCompare(b.key))
        )
      return ids.map((id) => id !== undefined)
    })
    if (known === this.partitionIds) for (const [k, id] of created) known.set(k, id)
    for (const [k, a] of seen) this.audienceSeenAt.set(k, a.at)
    for (const d of drops) this.quality.addDrops(d.destinationId, d.identifier, d.reason, d.count)
    for (const f of filtered) this.filteredCounts.add(f.destinationId, f.reason, f.n)
    if (readyAt.length > 0) this.opts.onQueued?.(readyAt)
    return isNew
  }

  private readonly eventIds = new EventIdBlock()

  /**
   * PostgreSQL, the common case (ingest-postgres.ts): events all new, their changes all queued to
   * known partitions, nothing filtered, failed, dropped, sampled, withdrawn, recorded or seen.
   * Undefined (nothing written) when the group is not such, or the statement finds it is not.
   */
  private async commitInOneStatement(batches: RoutedBatch[], known: Map<string, number>, version: number): Promise<boolean[] | undefined> {
    for (const b of batches) {
      if (b.withdrawals.length > 0 || b.filtered.count > 0 || b.items.samples.length > 0 || b.changes.failures.length > 0 || b.changes.dropped.length > 0)
        return undefined
    }
    const keysOf = queueKeysOf(batches)
    for (const keys of keysOf) {
      for (const k of keys) if (!known.has(k.partitionKey) || (parseBatchKey(k.batchKey).action === 'add' && this.remembers(k.partitionKey))) return undefined
    }
    const records = recordsOf(batches)
    const now = Date.now()
    const seen: Seen = new Map()
    const ids = await this.eventIds.take(this.store.db, records.count, now)
    const { received } = this.recorded(batches, ids, now, seen)
    if (seen.size > 0) return undefined // recordAudiencesSeen: once a minute per audience, the general commit
    const { packs } = this.packsOf(batches, keysOf, ids, now, known, new Map(), false)
    const sorted = [...packs.values()].sort((a, b) => a.partitionId - b.partitionId)
    const readyAt = await commitInOneStatement(this.store.db, {
      ids,
      sourceId: records.sourceId,
      messageId: records.messageId,
      receivedAt: records.receivedAt,
      changes: records.changes,
      packs: sorted,
      batchSize: sorted.map((p) => this.batchSizeOf(p.destinationId)),
      received,
      now,
      windowMs: this.opts.windowMs,
      configVersion: version
    })
    if (!readyAt) return undefined
    this.countQuality(batches)
    if (readyAt.length > 0) this.opts.onQueued?.(readyAt)
    return new Array<boolean>(records.count).fill(true)
  }

  /** Quality statuses and choices of every change (all events new): packsOf's counting, after a one-statement commit. */
  private countQuality(batches: RoutedBatch[]): void {
    for (const { changes: c } of batches) {
      const q = c.quality
      for (let i = 0; i < c.count; i++) if (q[3 * i] !== 255) this.countChangeQuality(q, i, c.destinationId[i]!)
    }
  }

  /** One change's identifier statuses and matching choices, from its three quality bytes (route-batch.ts). */
  private countChangeQuality(q: Uint8Array, i: number, destinationId: number): void {
    const e = q[3 * i]!,
      p = q[3 * i + 1]!,
      a = q[3 * i + 2]!
    this.quality.addStatuses(destinationId, STATUSES[e & 7]!, STATUSES[p & 7]!, STATUSES[a & 7]!)
    if ((e | p | a) & CHOICE_FLAG) for (let k = 0; k < 3; k++) if (q[3 * i + k]! & CHOICE_FLAG) this.quality.addChoice(destinationId, ...CHOICES[k]!)
  }

  /**
   * What the new events (those with an id) bring: counts per source, audiences seen, failure samples
   * by event id (a loop of its own: docs/PERFORMANCE.md §1).
   */
  private recorded(
    batches: RoutedBatch[],
    ids: (number | undefined)[],
    now: number,
    seen: Seen
  ): { received: Map<number, number>; samples: Map<number, string> } {
    const samples = new Map<number, string>()
    const received = new Map<number, number>()
    let offset = 0
    for (const { items } of batches) {
      let lastSource = -1
      let lastAudience = -1
      for (let i = 0; i < items.count; i++) {
        if (ids[offset + i] === undefined) continue
        const sourceId = items.sourceId[i]!
        received.set(sourceId, (received.get(sourceId) ?? 0) + 1)
        // Consecutive events are mostly about the same audience: noted once per run of them.
        const a = items.audience[i]!
        if (a >= 0 && (a !== lastAudience || sourceId !== lastSource)) this.noteAudienceSeen(sourceId, items.audiences[a]!, now, seen)
        lastSource = sourceId
        lastAudience = a
      }
      for (const sample of items.samples) {
        const eventId = ids[offset + sample.index]
        if (eventId !== undefined) samples.set(eventId, sample.text)
      }
      offset += items.count
    }
    return { received, samples }
  }

  /**
   * Queues the changes of new events as one pack per partition and counts them on their partitions
   * (in id order: no deadlock between processes); records those that failed at routing. Returns
   * failures per destination.
   */
  private async queue(
    db: Store['db'],
    batches: RoutedBatch[],
    eventIds: (number | undefined)[],
    now: number,
    known: Map<string, number>,
    created: Map<string, number>,
    readyAt: number[]
  ): Promise<Map<number, number>> {
    const keysOf = queueKeysOf(batches)
    const missing = missingPartitions(batches, keysOf, eventIds, known)
    if (missing.size > 0) {
      const ids = await ensurePartitions(
        db,
        [...missing].map(([key, destinationId]) => ({ key, destinationId }))
      )
      for (const [k, id] of ids) created.set(k, id)
    }
    const { packs, failed, failedPer, sent } = this.packsOf(batches, keysOf, eventIds, now, known, created)
    await insertPacks(db, [...packs.values()])
    await insertChanges(db, failed)
    for (const [pid, pack] of [...packs].sort((a, b) => a[0] - b[0])) {
      const at = await addPending(db, pid, pack.body.count, this.batchSizeOf(pack.destinationId), now, this.opts.windowMs)
      if (at !== undefined) readyAt.push(at)
    }
    if (sent.length > 0) await recordSentIdentifiers(db, sent)
    if (await this.withdraw(db, batches, eventIds, now)) readyAt.push(now) // removals are ready at once
    return failedPer
  }

  /** Whether the destination of a partition (`<destination>|…`) records its adds: `rememberMembers`, or a consent category (withdrawal needs them). */
  private remembers(partitionKey: string): boolean {
    const d = this.table.destination(Number(partitionKey.slice(0, partitionKey.indexOf('|'))))?.destination
    return !!d && (d.rememberMembers || d.consentCategory !== null)
  }

  private readonly batchSizeOf = (destinationId: number): number =>
    this.table.destination(destinationId)?.destination.batchSize ?? DESTINATION_DEFAULTS.batchSize

  /**
   * Events that withdrew a destination's consent: the person's recorded adds to that destination
   * become removals, queued after everything this transaction queued (as forget does, with an audit).
   * True when there were any.
   */
  private async withdraw(db: Store['db'], batches: RoutedBatch[], eventIds: (number | undefined)[], now: number): Promise<boolean> {
    let offset = 0
    let any = false
    for (const { items, withdrawals } of batches) {
      for (const w of withdrawals) {
        if (eventIds[offset + w.item] === undefined) continue // a re-sent messageId: not routed again
        await queueRemovalsOfPerson(db, [{ destinationId: w.destinationId, person: w.person }], {
          origin: 'consent',
          destinationId: w.destinationId,
          batchSizeOf: this.batchSizeOf,
          now
        })
        any = true
      }
      offset += items.count
    }
    return any
  }

  /**
   * The new events' changes as one pack per partition, and those that failed at routing. Loops over
   * every change (docs/PERFORMANCE.md §1).
   */
  private packsOf(
    batches: RoutedBatch[],
    keysOf: QueueKeys[][],
    eventIds: (number | undefined)[],
    now: number,
    known: Map<string, number>,
    created: Map<string, number>,
    countQuality = true
  ): { packs: Map<number, NewPack>; failed: NewChange[]; failedPer: Map<number, number>; sent: SentIdentifier[] } {
    const packs = new Map<number, NewPack>()
    const failed: NewChange[] = []
    const failedPer = new Map<number, number>()
    const sent: SentIdentifier[] = []
    let offset = 0
    for (let b = 0; b < batches.length; b++) {
      const { items, changes: c } = batches[b]!
      const keys = keysOf[b]!
      const carried = c.carried.split('\n')
      const partitionIds = keys.map((k) => (known.get(k.partitionKey) ?? created.get(k.partitionKey))!)
      // Per queue key, the id types of its adds when its destination records them (undefined: not recorded).
      const addSchemas = keys.map((k) => {
        const kind = parseBatchKey(k.batchKey)
        return kind.action === 'add' && this.remembers(k.partitionKey) ? [...kind.idSchema] : undefined
      })
      const failures = new Map(c.failures.map((f) => [f.index, f]))
      for (let i = 0; i < c.count; i++) {
        const item = c.item[i]!
        const eventId = eventIds[offset + item]
        if (eventId === undefined) continue
        const destinationId = c.destinationId[i]!
        const key = c.key[i]!
        const q = c.quality
        if (countQuality && q[3 * i] !== 255) this.countChangeQuality(q, i, destinationId)
        if (key < 0) {
          const f = failures.get(i)!
          failedPer.set(destinationId, (failedPer.get(destinationId) ?? 0) + 1)
          failed.push({
            eventId,
            destinationId,
            mappingId: c.mappingId[i]!,
            partitionId: null,
            action: f.action,
            batchKey: null,
            ids: null,
            payload: null,
            status: 'failed',
            error: f.message,
            errorCode: f.code,
            createdAt: now
          })
          continue
        }
        const partitionId = partitionIds[key]!
        let pack = packs.get(partitionId)
        if (!pack) packs.set(partitionId, (pack = { partitionId, destinationId, body: new PackBody(), createdAt: now }))
        pack.body.add(eventId, c.mappingId[i]!, keys[key]!.batchKey, carried[i]!)
        const schema = addSchemas[key]
        if (schema) recordAdd(sent, partitionId, schema, carried[i] as SerializedIds, items.userHash[item]!)
      }
      offset += items.count
    }
    return { packs, failed, failedPer, sent }
  }

  /** Audiences seen in traffic are recorded, at most once a minute per audience (remembered once committed). */
  private noteAudienceSeen(sourceId: number, audience: { key: string; name: string | null }, now: number, seen: Seen): void {
    const k = `${sourceId}|${audience.key}`
    if (seen.has(k) || now - (this.audienceSeenAt.get(k) ?? 0) <= 60_000) return
    seen.set(k, { sourceId, key: audience.key, name: audience.name, at: now })
  }
}
