/**
 * Reads over routed batches' columns (route-batch.ts) for the router's commit: what its new events
 * dropped, filtered, added and which partitions they need. Pure functions, no database.
 *
 * The loops walk columns of one length below their count: their `!` index reads are in range.
 */
/* eslint-disable @typescript-eslint/no-non-null-assertion */
import { idsOf, type BatchKey, type PartitionKey, type SerializedIds } from '../store/queue-format.js'
import type { EventRecords } from '../store/sql/events.js'
import { ConfigChangedError } from '../store/sql/ingest-postgres.js'
import type { DropDelta } from '../store/sql/identifier-drops.js'
import type { FilteredDelta } from '../store/sql/outcome-totals.js'
import type { SentIdentifier } from '../store/sql/sent-identifiers.js'
import { first } from '../util/array.js'
import { decodeDrop, type RoutedBatch } from './route-batch.js'
import { FILTER_REASONS } from './route-event.js'

/** A routed batch's queue keys, by index (`keys` of its changes). */
export interface QueueKeys {
  partitionKey: PartitionKey
  batchKey: BatchKey
}

/** Each batch's queue keys (`partition\tbatch` in route-batch's columns), parsed once per commit. */
export function queueKeysOf(batches: RoutedBatch[]): QueueKeys[][] {
  return batches.map((b) =>
    b.changes.keys.map((k) => {
      const [partitionKey, batchKey] = k.split('\t') as [PartitionKey, BatchKey]
      return { partitionKey, batchKey }
    })
  )
}

/** The hashed ids of one queued add, by id type (a `{}` cell sends nothing: none recorded). */
export function recordAdd(sent: SentIdentifier[], partitionId: number, schema: string[], serialized: SerializedIds, userHash: string): void {
  const ids = idsOf(serialized)
  for (let j = 0; j < ids.length; j++) {
    const hash = ids[j]
    if (hash != null) sent.push({ partitionId, idType: schema[j]!, hash, userHash: userHash === '' ? null : userHash })
  }
}

/** The identifiers dropped in the new events' changes, per destination, identifier and reason (none: no loop at all). */
export function droppedOf(batches: RoutedBatch[], eventIds: (number | undefined)[]): DropDelta[] {
  const byKey = new Map<string, DropDelta>()
  let offset = 0
  for (const { items, changes: c } of batches) {
    const d = c.dropped
    for (let j = 0; j < d.length; j += 2) {
      const change = d[j]!
      if (eventIds[offset + c.item[change]!] === undefined) continue // a re-sent messageId: not routed again
      const destinationId = c.destinationId[change]!
      const { identifier, reason } = decodeDrop(d[j + 1]!)
      const k = `${destinationId}|${identifier}|${reason}`
      const delta = byKey.get(k)
      if (delta) delta.count++
      else byKey.set(k, { destinationId, identifier, reason, count: 1 })
    }
    offset += items.count
  }
  return [...byKey.values()]
}

/** Partitions the new events' changes go to that are not known yet, with their destination. */
export function missingPartitions(
  batches: RoutedBatch[],
  keysOf: QueueKeys[][],
  eventIds: (number | undefined)[],
  known: Map<string, number>
): Map<string, number> {
  const missing = new Map<string, number>()
  let offset = 0
  for (let b = 0; b < batches.length; b++) {
    const { items, changes: c } = batches[b]!
    const keys = keysOf[b]!
    for (let i = 0; i < c.count; i++) {
      const key = c.key[i]!
      if (key < 0 || eventIds[offset + c.item[i]!] === undefined) continue
      const { partitionKey } = keys[key]!
      if (!known.has(partitionKey)) missing.set(partitionKey, c.destinationId[i]!)
    }
    offset += items.count
  }
  return missing
}

/** What routing filtered of the new events (those with an id), per destination and reason. */
export function filteredOf(batches: RoutedBatch[], ids: (number | undefined)[]): FilteredDelta[] {
  const counts = new Map<number, number>()
  let offset = 0
  for (const { items, filtered: f } of batches) {
    for (let i = 0; i < f.count; i++) {
      if (ids[offset + f.item[i]!] === undefined) continue
      const k = f.destinationId[i]! * FILTER_REASONS.length + f.reason[i]!
      counts.set(k, (counts.get(k) ?? 0) + 1)
    }
    offset += items.count
  }
  return [...counts].map(([k, n]) => ({ destinationId: Math.floor(k / FILTER_REASONS.length), reason: FILTER_REASONS[k % FILTER_REASONS.length]!, n }))
}

/** The configuration version all of `batches` were routed with; ConfigChangedError when they differ (one is stale). */
export function versionOf(batches: RoutedBatch[]): number {
  const v = batches[0]?.version ?? -1
  for (const b of batches) if (b.version !== v) throw new ConfigChangedError()
  return v
}

/** The event records of `batches` as one set of columns, in order (the batch's own when there is one). */
export function recordsOf(batches: RoutedBatch[]): EventRecords {
  if (batches.length === 1) return first(batches).items
  let count = 0
  for (const b of batches) count += b.items.count
  const sourceId = new Int32Array(count)
  const receivedAt = new Float64Array(count)
  const changes = new Int32Array(count)
  const messageId: string[] = []
  let offset = 0
  for (const { items } of batches) {
    sourceId.set(items.sourceId, offset)
    receivedAt.set(items.receivedAt, offset)
    changes.set(items.changes, offset)
    appendAll(messageId, items.messageId)
    offset += items.count
  }
  return { count, sourceId, messageId, receivedAt, changes }
}

/** Appends `values` to `to`, in order (no spread: `values` may be longer than the call stack allows). */
export function appendAll<T>(to: T[], values: readonly T[]): void {
  for (let i = 0; i < values.length; i++) to.push(values[i]!)
}
