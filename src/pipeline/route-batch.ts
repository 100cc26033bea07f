/**
 * Routing a batch of accepted events to plain data: what the router's transaction writes (event
 * records, queued changes, failures) without the database. Pure given the routing table, so it can
 * run where the events are parsed — in a route worker for `send` — and hand its result over.
 */
import type { MembershipChange } from '../destination/changes.js'
import { DROP_REASONS, type DropReason, type IdentifierKind, type IdentifierReport, type IdentifierStatus } from '../destination/identifiers.js'
import { serializeIds, type SerializedIds } from '../store/queue-format.js'
import { userHashOf, type HashedPerson } from '../destination/person.js'
import { audienceOf, type SegmentEvent } from './event.js'
import type { MatchingChoice } from './quality.js'
import { redactEvent } from './redact.js'
import { FILTER_REASONS, queueKeys, routeEvents, type FilterReason, type RouteOutcome } from './route-event.js'
import type { RoutingTable } from './routing-table.js'
import { at } from '../util/array.js'
import { must } from '../util/must.js'

/** An event accepted from a source (shape already checked). */
export interface AcceptedEvent {
  sourceId: number
  event: SegmentEvent
  receivedAt: number
}

/**
 * The changes — or failures — routing made of a batch's events, one per (event, destination,
 * mapping), as columns: typed arrays and strings cross to the main thread by copy, not as objects
 * (docs/PERFORMANCE.md §3).
 * Destination-major, events in order within a destination: each partition gets its changes in
 * event order.
 */
export interface RoutedChanges {
  count: number
  /** Index of the change's event in the batch's items. */
  item: Int32Array
  destinationId: Int32Array
  mappingId: Int32Array
  /** Index into `keys`; -1 for a change that failed at routing (see `failures`). */
  key: Int32Array
  /** `partitionKey\tbatchKey` of the queued changes. */
  keys: string[]
  /**
   * Identifier statuses (email, phone, advertising id) as indexes into STATUSES, 3 per change, with
   * CHOICE_FLAG added for a matching choice (CHOICES); 255: none (also a person's further rows).
   */
  quality: Uint8Array
  /**
   * Per change, what it carries into its pack (PackBody.add): its serialised ids, or an audience
   * creation's payload (JSON); joined by newlines (JSON text has none).
   */
  carried: string
  /**
   * Identifiers the mapping dropped (rejected, whitespace only), 2 per drop: the change's index and
   * `kind * 8 + reason` (indexes into DROP_KINDS and DROP_REASONS). Empty unless something was dropped.
   */
  dropped: Int32Array
  failures: { index: number; action: string; code: string; message: string }[]
}

export const STATUSES: IdentifierStatus[] = ['hashed', 'prehashed', 'repaired', 'rejected', 'empty', 'disabled']
const STATUS_INDEX = new Map<string, number>(STATUSES.map((s, i) => [s, i]))
const statusIndex = (status: string): number => must(STATUS_INDEX.get(status), 'a status of STATUSES')
/** Added to a quality byte (status index < 8) when its identifier made CHOICES' matching choice. */
export const CHOICE_FLAG = 8
/** The matching choice each identifier can make (pipeline/quality.ts choicesOf), in quality-byte order. */
export const CHOICES: readonly [IdentifierKind, MatchingChoice][] = [
  ['email', 'multiple'],
  ['phone', 'multiple'],
  ['advertising_id', 'aaid']
]
export const DROP_KINDS: IdentifierKind[] = ['email', 'phone', 'advertising_id']
const DROP_REASON_INDEX = new Map<DropReason, number>(DROP_REASONS.map((r, i) => [r, i]))

/** A routed batch's drops (`dropped`), decoded: change index, identifier, reason. */
export function decodeDrop(code: number): { identifier: IdentifierKind; reason: DropReason } {
  return { identifier: at(DROP_KINDS, code >> 3), reason: at(DROP_REASONS, code & 7) }
}

/**
 * The batch's events, as columns too (an array of objects costs ~7× more to hand to another thread:
 * its keys are written out for every object): what their records need.
 */
export interface RoutedItems {
  count: number
  sourceId: Int32Array
  receivedAt: Float64Array
  /** How many changes (queued or failed) routing made of each. */
  changes: Int32Array
  messageId: string[]
  /** Index into `audiences` of the Engage audience the event is about; -1: none. */
  audience: Int32Array
  audiences: { key: string; name: string | null }[]
  /** The events with a failed change, redacted (Event Delivery's sample), by index. */
  samples: { index: number; text: string }[]
  /**
   * sha256 of the userId of each event that made an add ('' for none or no add): recorded with the
   * identifiers it added (store/sql/sent-identifiers.ts).
   */
  userHash: string[]
}

/** An event that withdrew a destination's consent (route-event.ts `consent_withdrawn`): the person to remove from its audiences. */
export interface RoutedWithdrawal {
  item: number
  destinationId: number
  person: HashedPerson
}

/** The events routing skipped as not for a destination (route-event.ts FilterReason), one per (event, destination). */
export interface RoutedFiltered {
  count: number
  item: Int32Array
  destinationId: Int32Array
  /** Index into FILTER_REASONS. */
  reason: Uint8Array
}

export interface RoutedBatch {
  /** The configuration version it was routed with (PostgreSQL's commit checks it is still the stored one). */
  version: number
  items: RoutedItems
  changes: RoutedChanges
  filtered: RoutedFiltered
  withdrawals: RoutedWithdrawal[]
}

/** The typed arrays of a routed batch: moved to another thread with it, not copied. */
export function transferables(batch: RoutedBatch): ArrayBuffer[] {
  const c = batch.changes
  const i = batch.items
  const f = batch.filtered
  return [
    c.item,
    c.destinationId,
    c.mappingId,
    c.key,
    c.quality,
    c.dropped,
    i.sourceId,
    i.receivedAt,
    i.changes,
    i.audience,
    f.item,
    f.destinationId,
    f.reason
  ].map((a) => a.buffer as ArrayBuffer)
}

const FILTER_REASON_INDEX = new Map<FilterReason, number>(FILTER_REASONS.map((r, i) => [r, i]))

/** A column of numbers in a typed array that grows as they are pushed (no array of numbers to convert at the end). */
class TypedColumn<A extends Int32Array | Uint8Array> {
  private data: A
  length = 0

  constructor(private readonly make: (length: number) => A) {
    this.data = make(1024)
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2)
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.length++] = v
  }

  /** The values pushed, in an array of their own (its buffer is handed to another thread). */
  done(): A {
    return this.data.slice(0, this.length) as A
  }
}

const ints = () => new TypedColumn((n) => new Int32Array(n))

/** Collects routed changes column by column. */
class ChangeColumns {
  readonly item = ints()
  readonly destinationId = ints()
  readonly mappingId = ints()
  readonly key = ints()
  keys: string[] = []
  private keyIndex = new Map<string, number>()
  /** 3 per change: email, phone, advertising id. */
  private readonly quality = new TypedColumn((n) => new Uint8Array(n))
  /** 2 per dropped identifier (RoutedChanges.dropped); allocated at the first drop. */
  private dropped: TypedColumn<Int32Array> | undefined
  carried: string[] = []
  failures: RoutedChanges['failures'] = []

  /** The last membership change's queue keys, as parts and as an index into `keys`. */
  private last: { destinationId: number; change: MembershipChange; k: number } | undefined

  /**
   * Index into `keys` of a membership change's `partitionKey\tbatchKey`. Consecutive changes mostly
   * share them (same destination, audience, action and id_schema): compared by their parts, the
   * keys are not written out and hashed again for every change.
   */
  membershipKey(destinationId: number, c: MembershipChange): number {
    const last = this.last
    if (last && last.destinationId === destinationId && sameQueue(last.change, c)) return last.k
    const { partitionKey, batchKey } = queueKeys(destinationId, c)
    const k = this.keyOf(`${partitionKey}\t${batchKey}`)
    this.last = { destinationId, change: c, k }
    return k
  }

  keyOf(key: string): number {
    let k = this.keyIndex.get(key)
    if (k === undefined) {
      k = this.keys.length
      this.keys.push(key)
      this.keyIndex.set(key, k)
    }
    return k
  }

  /** `k`: index into `keys` (membershipKey, keyOf), -1 for a change that failed at routing. */
  push(item: number, destinationId: number, mappingId: number, k: number, quality: IdentifierReport | undefined, carried: SerializedIds | string): void {
    this.item.push(item)
    this.destinationId.push(destinationId)
    this.mappingId.push(mappingId)
    this.key.push(k)
    const q = this.quality
    if (quality) {
      const { email, phone, advertising_id } = quality
      q.push(statusIndex(email.status) + (email.more ? CHOICE_FLAG : 0))
      q.push(statusIndex(phone.status) + (phone.more ? CHOICE_FLAG : 0))
      q.push(statusIndex(advertising_id.status) + (advertising_id.idType === 'AAID_SHA256' ? CHOICE_FLAG : 0))
      // Cheap when nothing was dropped: a few property reads.
      if (email.drop || phone.drop || advertising_id.drop || email.more || phone.more) this.drop(this.item.length - 1, quality)
    } else for (let j = 0; j < 3; j++) q.push(255)
    this.carried.push(carried)
  }

  private drop(change: number, quality: IdentifierReport): void {
    const d = (this.dropped ??= ints())
    for (let k = 0; k < 3; k++) {
      const outcome = quality[at(DROP_KINDS, k)]
      // The lead value's drop, then those of the person's further values (several emails or phones).
      for (const o of outcome.more ? [outcome, ...outcome.more] : [outcome]) {
        if (!o.drop) continue
        d.push(change)
        d.push(k * 8 + must(DROP_REASON_INDEX.get(o.drop), 'a drop reason of DROP_REASONS'))
      }
    }
  }

  fail(item: number, destinationId: number, mappingId: number, quality: IdentifierReport | undefined, action: string, code: string, message: string): void {
    this.failures.push({ index: this.item.length, action, code, message })
    this.push(item, destinationId, mappingId, -1, quality, '')
  }

  done(): RoutedChanges {
    return {
      count: this.item.length,
      item: this.item.done(),
      destinationId: this.destinationId.done(),
      mappingId: this.mappingId.done(),
      key: this.key.done(),
      keys: this.keys,
      quality: this.quality.done(),
      carried: this.carried.join('\n'),
      dropped: this.dropped?.done() ?? new Int32Array(0),
      failures: this.failures
    }
  }
}

export function routeBatch(table: RoutingTable, items: AcceptedEvent[]): RoutedBatch {
  const isOurs = (names: string[]) => table.namesAnyDestination(names)
  const n = items.length
  const routed: RoutedItems = {
    count: n,
    sourceId: new Int32Array(n),
    receivedAt: new Float64Array(n),
    changes: new Int32Array(n),
    messageId: new Array(n),
    audience: new Int32Array(n),
    audiences: [],
    samples: [],
    userHash: new Array<string>(n).fill('')
  }
  const audienceIndex = new Map<string, number[]>()
  const audienceKeys: (string | undefined)[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const { event, sourceId, receivedAt } = at(items, i)
    routed.sourceId[i] = sourceId
    routed.receivedAt[i] = receivedAt
    routed.messageId[i] = event.messageId
    const audience = audienceOf(event)
    let a = -1
    if (audience) {
      // Indexes of the audiences seen with this key (one, unless events disagree on its name).
      let same = audienceIndex.get(audience.key)
      if (!same) audienceIndex.set(audience.key, (same = []))
      a = same.find((j) => at(routed.audiences, j).name === audience.name) ?? -1
      if (a === -1) same.push((a = routed.audiences.push(audience) - 1))
    }
    routed.audience[i] = a
    audienceKeys[i] = audience?.key
  }
  const changes = new ChangeColumns()
  const bySource = new Map<number, number[]>()
  items.forEach((item, i) => {
    let list = bySource.get(item.sourceId)
    if (!list) bySource.set(item.sourceId, (list = []))
    list.push(i)
  })
  const sampled = new Set<number>()
  const filteredItem = ints()
  const filteredDestination = ints()
  const filteredReason = new TypedColumn((n) => new Uint8Array(n))
  const withdrawals: RoutedWithdrawal[] = []
  for (const [sourceId, indexes] of bySource) {
    const list = indexes.map((i) => ({ event: at(items, i).event, audienceKey: audienceKeys[i] }))
    for (const target of table.destinationsOf(sourceId)) {
      const destinationId = target.destination.id
      const { outcomes, filtered, withdrawn } = routeEvents(list, target, isOurs)
      // Only a destination that records its adds needs the userId they were for (router.ts).
      const remembers = target.destination.rememberMembers || target.destination.consentCategory !== null
      indexes.forEach((i, k) => {
        const reason = filtered[k]
        if (reason !== undefined) {
          filteredItem.push(i)
          filteredDestination.push(destinationId)
          filteredReason.push(must(FILTER_REASON_INDEX.get(reason), 'a filter reason of FILTER_REASONS'))
          const person = withdrawn[k]
          if (person) withdrawals.push({ item: i, destinationId, person })
          return
        }
        const out = at(outcomes, k)
        if (out.length === 0) return
        routed.changes[i] = at(routed.changes, i) + rowCount(out)
        if (remembers && routed.userHash[i] === '' && out.some(isAdd)) routed.userHash[i] = userHashOf(at(items, i).event.userId) ?? ''
        if (toRouted(i, destinationId, out, changes) && !sampled.has(i)) {
          sampled.add(i)
          routed.samples.push({ index: i, text: JSON.stringify(redactEvent(at(items, i).event)) })
        }
      })
    }
  }
  const filtered: RoutedFiltered = {
    count: filteredItem.length,
    item: filteredItem.done(),
    destinationId: filteredDestination.done(),
    reason: filteredReason.done()
  }
  return { version: table.loadedVersion, items: routed, changes: changes.done(), filtered, withdrawals }
}

const isAdd = (o: RouteOutcome): boolean => o.ok && o.change.kind === 'membership' && o.change.action === 'add'

/** Whether two membership changes queue alike: same partition and batch kind (queueKeys) from the same destination. */
function sameQueue(a: MembershipChange, b: MembershipChange): boolean {
  return a.action === b.action && a.audienceId === b.audienceId && sameStrings(a.advertiserIds, b.advertiserIds) && sameStrings(a.idSchema, b.idSchema)
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** How many queued changes (or failures) an event's outcomes make: a membership change is one per row. */
function rowCount(outcomes: RouteOutcome[]): number {
  let n = 0
  for (const o of outcomes) n += o.ok && o.change.kind === 'membership' && o.change.moreIds ? 1 + o.change.moreIds.length : 1
  return n
}

/** One event's outcomes for one destination as routed changes; true when any failed. */
function toRouted(item: number, destinationId: number, outcomes: RouteOutcome[], out: ChangeColumns): boolean {
  let failed = false
  for (const o of outcomes) {
    if (!o.ok) {
      failed = true
      out.fail(item, destinationId, o.mapping.id, o.quality, o.action, o.code, o.message)
      continue
    }
    const c = o.change
    if (c.kind === 'membership') {
      const k = out.membershipKey(destinationId, c)
      // A fan-out copy (another advertiser, route-event.ts) carries the same identifiers: counted once.
      out.push(item, destinationId, o.mapping.id, k, o.fanned ? undefined : c.quality, serializeIds(c.ids))
      // The person's further rows (several emails or phones) queue as changes of their own, right
      // behind, in the same partition and batch: their quality was counted with the first.
      for (const ids of c.moreIds ?? []) out.push(item, destinationId, o.mapping.id, k, undefined, serializeIds(ids))
    } else {
      const { partitionKey, batchKey } = queueKeys(destinationId, c)
      const payload = JSON.stringify({ advertiserId: c.advertiserId, name: c.name })
      out.push(item, destinationId, o.mapping.id, out.keyOf(`${partitionKey}\t${batchKey}`), undefined, payload)
    }
  }
  return failed
}
