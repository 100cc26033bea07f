/**
 * Routing a batch of accepted events to plain data: what the router's transaction writes (event
 * records, queued changes, failures) without the database. Pure given the routing table, so it can
 * run where the events are parsed — in a route worker for `send` — and hand its result over.
 */
import type { IdentifierReport, IdentifierStatus } from '../destination/identifiers.js'
import { rowTail } from '../store/sql/queue-packs.js'
import { audienceOf, type SegmentEvent } from './event.js'
import { redactEvent } from './redact.js'
import { queueKeys, routeEvents, type RouteOutcome } from './route-event.js'
import type { RoutingTable } from './routing-table.js'

/** An event accepted from a source (shape already checked). */
export interface AcceptedEvent {
  sourceId: number
  event: SegmentEvent
  receivedAt: number
}

/**
 * The changes — or failures — routing made of a batch's events, one per (event, destination,
 * mapping), as columns: typed arrays and strings cross to the main thread by copy, not as objects.
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
  /** Identifier statuses (email, phone, advertising id) as indexes into STATUSES, 3 per change; 255: none. */
  quality: Uint8Array
  /** Per change, the JSON text of its pack row's tail (rowTail), joined by newlines (JSON text has none). */
  tails: string
  failures: { index: number; action: string; code: string; message: string }[]
}

export const STATUSES: IdentifierStatus[] = ['hashed', 'prehashed', 'repaired', 'rejected', 'empty', 'disabled']
const STATUS_INDEX = new Map<string, number>(STATUSES.map((s, i) => [s, i]))

export interface RoutedItem {
  sourceId: number
  messageId: string
  receivedAt: number
  type: string
  name: string | null
  audience?: { key: string; name: string | null }
  /** How many changes (queued or failed) routing made of it. */
  changes: number
  /** The event, redacted, when a change of it failed (Event Delivery's sample). */
  sample?: string
}

export interface RoutedBatch {
  items: RoutedItem[]
  changes: RoutedChanges
}

/** The typed arrays of a routed batch: moved to another thread with it, not copied. */
export function transferables(batch: RoutedBatch): ArrayBuffer[] {
  const c = batch.changes
  return [c.item, c.destinationId, c.mappingId, c.key, c.quality].map((a) => a.buffer as ArrayBuffer)
}

/** Collects routed changes column by column. */
class ChangeColumns {
  item: number[] = []
  destinationId: number[] = []
  mappingId: number[] = []
  key: number[] = []
  keys: string[] = []
  private keyIndex = new Map<string, number>()
  quality: number[] = []
  tails: string[] = []
  failures: RoutedChanges['failures'] = []

  push(item: number, destinationId: number, mappingId: number, key: string | null, quality: IdentifierReport | undefined, tail: string): void {
    this.item.push(item)
    this.destinationId.push(destinationId)
    this.mappingId.push(mappingId)
    let k = -1
    if (key !== null) {
      k = this.keyIndex.get(key) ?? -1
      if (k === -1) {
        k = this.keys.length
        this.keys.push(key)
        this.keyIndex.set(key, k)
      }
    }
    this.key.push(k)
    if (quality) this.quality.push(STATUS_INDEX.get(quality.email.status)!, STATUS_INDEX.get(quality.phone.status)!, STATUS_INDEX.get(quality.advertising_id.status)!)
    else this.quality.push(255, 255, 255)
    this.tails.push(tail)
  }

  fail(item: number, destinationId: number, mappingId: number, quality: IdentifierReport | undefined, action: string, code: string, message: string): void {
    this.failures.push({ index: this.item.length, action, code, message })
    this.push(item, destinationId, mappingId, null, quality, '')
  }

  done(): RoutedChanges {
    return {
      count: this.item.length,
      item: Int32Array.from(this.item),
      destinationId: Int32Array.from(this.destinationId),
      mappingId: Int32Array.from(this.mappingId),
      key: Int32Array.from(this.key),
      keys: this.keys,
      quality: Uint8Array.from(this.quality),
      tails: this.tails.join('\n'),
      failures: this.failures
    }
  }
}

export function routeBatch(table: RoutingTable, items: AcceptedEvent[]): RoutedBatch {
  const isOurs = (names: string[]) => table.namesAnyDestination(names)
  const routedItems: RoutedItem[] = items.map((i) => {
    const audience = audienceOf(i.event)
    const item: RoutedItem = { sourceId: i.sourceId, messageId: i.event.messageId, receivedAt: i.receivedAt, type: i.event.type, name: typeof i.event.event === 'string' ? i.event.event : null, changes: 0 }
    if (audience) item.audience = audience
    return item
  })
  const changes = new ChangeColumns()
  const bySource = new Map<number, number[]>()
  items.forEach((item, i) => {
    let list = bySource.get(item.sourceId)
    if (!list) bySource.set(item.sourceId, (list = []))
    list.push(i)
  })
  for (const [sourceId, indexes] of bySource) {
    const list = indexes.map((i) => ({ event: items[i].event, audienceKey: routedItems[i].audience?.key }))
    for (const target of table.destinationsOf(sourceId)) {
      const destinationId = target.destination.id
      const outcomes = routeEvents(list, target, isOurs)
      indexes.forEach((i, k) => {
        const out = outcomes[k]
        if (out.length === 0) return
        routedItems[i].changes += out.length
        if (toRouted(i, destinationId, out, changes) && routedItems[i].sample === undefined) routedItems[i].sample = JSON.stringify(redactEvent(items[i].event))
      })
    }
  }
  return { items: routedItems, changes: changes.done() }
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
    const { partitionKey, batchKey } = queueKeys(destinationId, c)
    if (c.kind === 'membership') out.push(item, destinationId, o.mapping.id, `${partitionKey}\t${batchKey}`, c.quality, rowTail({ batchKey, ids: c.ids, payload: null }))
    else {
      const payload = JSON.stringify({ advertiserId: c.advertiserId, name: c.name })
      out.push(item, destinationId, o.mapping.id, `${partitionKey}\t${batchKey}`, undefined, rowTail({ batchKey, ids: null, payload }))
    }
  }
  return failed
}
