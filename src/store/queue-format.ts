/**
 * The queue's formats, written and read here only: partition keys, batch keys, serialised ids and
 * pack bodies. Everything else holds them as opaque values (BatchKey, PartitionKey, SerializedIds)
 * and asks this module what is in them.
 *
 * A pack is the changes one ingestion transaction queued for one partition, in order, stored as
 * one row (queue-packs.ts). Its body (text, migration 7): the batch keys as a JSON array on the
 * first line, then a line per change: `eventId,mappingId,keyIndex` and, after a comma, what the
 * change carries as JSON text — a membership change its serialised ids (`"h1",null,"h3"`), an
 * audience creation its payload as one JSON string. JSON text holds no raw newline, so a pack is
 * read by splitting lines and cutting at three commas, without parsing the hashes (the deliverer
 * reads every change of the queue back once; the serialised ids also serve as its identity).
 * Read by cutting at commas, never parsed: docs/PERFORMANCE.md §2.
 */
import { jsonItems } from '../util/json.js'
import { at } from '../util/array.js'

declare const brand: unique symbol

/**
 * What changes share one request: `add|EMAIL_SHA256,PHONE_SHA256`, `delete|…` (action and
 * id_schema) or `create`. Compared and used as a map key as it is; taken apart only here.
 */
export type BatchKey = string & { readonly [brand]: 'BatchKey' }

/** A batch key's parts. The id schema is TikTok's `id_schema`, as text (the store knows no TikTok types). */
export type BatchKind = { action: 'create' } | { action: 'add' | 'delete'; idSchema: readonly string[] }

/** Where a change queues, `<destination>|<advertisers>|<audience>` (`<destination>|create|<advertiser>` for creations). */
export type PartitionKey = string & { readonly [brand]: 'PartitionKey' }

/**
 * A membership change's hashed ids aligned with its batch key's id_schema, as the queue stores them
 * (JSON array items without brackets: `"h1",null,"h3"`). Written by serializeIds, read by idsOf and
 * idCells; equal ids serialise to equal text.
 */
export type SerializedIds = string & { readonly [brand]: 'SerializedIds' }

export const CREATE_KEY = 'create' as BatchKey
const NO_IDS = '' as SerializedIds

export function encodeBatchKey(kind: BatchKind): BatchKey {
  return (kind.action === 'create' ? CREATE_KEY : `${kind.action}|${kind.idSchema.join(',')}`) as BatchKey
}

/** The inverse of encodeBatchKey; a key not of that form (from a damaged row) is an error naming it. */
export function parseBatchKey(key: BatchKey | string): BatchKind {
  const action = actionOf(key)
  return action === 'create' ? { action } : { action, idSchema: key.slice(key.indexOf('|') + 1).split(',') }
}

/** The action of a batch key (parseBatchKey's, without cutting out the schema). */
export function actionOf(key: BatchKey | string): 'add' | 'delete' | 'create' {
  if (key === CREATE_KEY) return 'create'
  const action = key.slice(0, key.indexOf('|'))
  if (action !== 'add' && action !== 'delete') throw new Error(`not a batch key: ${JSON.stringify(key)}`)
  return action
}

/** Whether stored text is a membership change's batch key (an action and an id_schema). */
export const isMembershipKey = (text: string): boolean => text.includes('|')

/** A batch key read back from where it was stored as text (a dead letter's `batch_key` column). */
export const storedBatchKey = (text: string): BatchKey => text as BatchKey

/**
 * The part of a batch key identities share: its id_schema (an add and a later delete of the same
 * ids are about the same person). Audience creations have no identity.
 */
export function identityScope(key: BatchKey): string {
  return key.slice(key.indexOf('|') + 1)
}

/**
 * Who a membership change is about: its id_schema and serialised ids. Changes of one identity
 * supersede each other (the last one carries the state); a dead letter is resolved by a later one.
 */
export function identityOf(key: BatchKey, ids: SerializedIds): string {
  return `${identityScope(key)}|${ids}`
}

/** The batch keys of both actions with the same id_schema as `key` (membership keys). */
export function keysOfSameSchema(key: BatchKey): { add: BatchKey; delete: BatchKey } {
  const scope = identityScope(key)
  return { add: `add|${scope}` as BatchKey, delete: `delete|${scope}` as BatchKey }
}

export function membershipPartitionKey(destinationId: number, advertiserIds: readonly string[], audienceId: string): PartitionKey {
  return `${destinationId}|${advertiserIds.join(',')}|${audienceId}` as PartitionKey
}

export function createPartitionKey(destinationId: number, advertiserId: string): PartitionKey {
  return `${destinationId}|create|${advertiserId}` as PartitionKey
}

/** The inverse of membershipPartitionKey: what every request of a membership partition shares. */
export function parsePartitionKey(key: PartitionKey | string): { destinationId: number; advertiserIds: string[]; audienceId: string } {
  const [destinationId, advertisers = '', audienceId = ''] = key.split('|')
  return { destinationId: Number(destinationId), advertiserIds: advertisers.split(','), audienceId }
}

export function serializeIds(ids: readonly (string | null)[]): SerializedIds {
  return jsonItems(ids) as SerializedIds
}

// Serialised ids without a backslash hold no escaped quote: each item is a quoted string whose next
// quote closes it, or `null`. With one (never a hash), the text is parsed as JSON instead.
const hasEscapes = (ids: string): boolean => ids.indexOf('\\') !== -1
/** Where the item starting at `i` ends (exclusive), in text without escapes. */
const itemEnd = (ids: string, i: number): number => (ids.charCodeAt(i) === 34 /* " */ ? ids.indexOf('"', i + 1) + 1 : i + 4)
const parseIds = (ids: string): (string | null)[] => JSON.parse(`[${ids}]`) as (string | null)[]

/** The hashed ids of serialised ids, in order; hex hashes are cut out without a JSON parse. */
export function idsOf(ids: SerializedIds): (string | null)[] {
  if (ids === '') return []
  if (hasEscapes(ids)) return parseIds(ids)
  const out: (string | null)[] = []
  for (let i = 0; i < ids.length;) {
    const end = itemEnd(ids, i)
    out.push(ids.charCodeAt(i) === 34 ? ids.slice(i + 1, end - 1) : null)
    i = end + 1
  }
  return out
}

/**
 * Each id's JSON string between `before` and `after`, `absent` for a null or empty id, joined by
 * commas: JSON holding the ids, written from the stored text as it is (a request body's row is
 * 10,000 of these: no array of ids in between).
 */
export function idCells(ids: SerializedIds, before: string, after: string, absent: string): string {
  if (hasEscapes(ids))
    return parseIds(ids)
      .map((id) => (id ? before + JSON.stringify(id) + after : absent))
      .join(',')
  let out = ''
  for (let i = 0; i < ids.length;) {
    if (i > 0) out += ','
    const end = itemEnd(ids, i)
    out += ids.charCodeAt(i) === 34 && end > i + 2 ? before + ids.slice(i, end) + after : absent
    i = end + 1
  }
  return out
}

/** A change as it goes into a pack. */
export interface PackChange {
  eventId: number | null
  mappingId: number | null
  batchKey: BatchKey
  /** Hashed ids aligned with the batch key's id_schema (membership changes). */
  ids: (string | null)[] | null
  /** What an audience creation needs, as JSON (`create`). */
  payload: string | null
  /** Its line's content already written (migration 7 converts lines of the previous format). */
  json?: string
}

/**
 * A pack's body, written as its changes are added: routing adds them by the thousand, straight from
 * its columns, without an object per change.
 */
export class PackBody {
  private readonly keys: BatchKey[] = []
  private readonly keyIndex = new Map<BatchKey, number>()
  private readonly rows: string[] = []
  firstEventId: number | null = null
  lastEventId: number | null = null

  static of(changes: PackChange[]): PackBody {
    const body = new PackBody()
    for (const c of changes) {
      if (c.json !== undefined) body.addLine(c.eventId, c.mappingId, c.batchKey, c.json)
      else body.add(c.eventId, c.mappingId, c.batchKey, c.batchKey === CREATE_KEY ? c.payload : c.ids && serializeIds(c.ids))
    }
    return body
  }

  get count(): number {
    return this.rows.length
  }

  /** `carried`: a membership change's SerializedIds, or an audience creation's payload (JSON). */
  add(eventId: number | null, mappingId: number | null, key: BatchKey, carried: SerializedIds | string | null): void {
    this.addLine(eventId, mappingId, key, key === CREATE_KEY ? JSON.stringify(carried) : (carried ?? NO_IDS))
  }

  private addLine(eventId: number | null, mappingId: number | null, key: BatchKey, content: string): void {
    let k = this.keyIndex.get(key)
    if (k === undefined) {
      k = this.keys.length
      this.keys.push(key)
      this.keyIndex.set(key, k)
    }
    this.rows.push(content === '' ? `${eventId},${mappingId},${k}` : `${eventId},${mappingId},${k},${content}`)
    if (eventId !== null) {
      if (this.firstEventId === null || eventId < this.firstEventId) this.firstEventId = eventId
      if (this.lastEventId === null || eventId > this.lastEventId) this.lastEventId = eventId
    }
  }

  text(): string {
    return `${JSON.stringify(this.keys)}\n${this.rows.join('\n')}`
  }
}

/** A pack body of `changes`. */
export function encodePack(changes: PackChange[]): string {
  return PackBody.of(changes).text()
}

/** A pack as stored (queue-packs.ts reads them). */
export interface PackRow {
  id: number
  partition_id: number
  n: number
  settled: string | null
  body: string
  created_at: number
}

/**
 * A change as read back from its pack: where it lives (pack, position) and what it carries. Its
 * hashed ids are cut out of the serialised ones only when asked for: requests are written from
 * the serialised ids themselves (idCells), and supersession compares them.
 */
export class OpenChange {
  constructor(
    readonly pack: number,
    readonly at: number,
    readonly createdAt: number,
    readonly eventId: number | null,
    readonly mappingId: number | null,
    readonly batchKey: BatchKey,
    /** Its hashed ids as stored (empty for an audience creation). */
    readonly serializedIds: SerializedIds,
    readonly payload: string | null
  ) {}

  /** Hashed ids aligned with the batch key's id_schema (membership changes). */
  get ids(): (string | null)[] | null {
    return this.batchKey === CREATE_KEY ? null : idsOf(this.serializedIds)
  }
}

const numberOrNull = (text: string): number | null => (text === 'null' ? null : Number(text))

/** The changes of a pack not settled yet, in order. */
export function openChangesOf(row: PackRow): OpenChange[] {
  const body = row.body
  const settled = row.settled
  const pack = Number(row.id)
  const createdAt = Number(row.created_at)
  const n = Number(row.n)
  const firstBreak = body.indexOf('\n')
  const keys = JSON.parse(body.slice(0, firstBreak)) as BatchKey[]
  const out: OpenChange[] = []
  let start = firstBreak + 1
  for (let line = 0; line < n; line++) {
    let end = body.indexOf('\n', start)
    if (end === -1) end = body.length
    if (settled === null || settled.charCodeAt(line) !== 49 /* '1' */) {
      const c1 = body.indexOf(',', start)
      const c2 = body.indexOf(',', c1 + 1)
      let c3 = body.indexOf(',', c2 + 1)
      if (c3 === -1 || c3 > end) c3 = end
      const batchKey = at(keys, Number(body.slice(c2 + 1, c3)))
      const content = c3 < end ? body.slice(c3 + 1, end) : ''
      const create = batchKey === CREATE_KEY
      const payload = create ? (JSON.parse(content) as string | null) : null
      const ids = (create ? NO_IDS : content) as SerializedIds
      out.push(new OpenChange(pack, line, createdAt, numberOrNull(body.slice(start, c1)), numberOrNull(body.slice(c1 + 1, c2)), batchKey, ids, payload))
    }
    start = end + 1
  }
  return out
}
