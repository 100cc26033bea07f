/**
 * `/segment/mapping/` body validation and application — the emulator's hot path.
 * A 10,000-row body is checked in one pass without allocating per cell, then applied in a second pass
 * (the whole body is validated before anything changes: all or nothing, like TikTok's single result code).
 * Its scanners index bytes, cells and columns below lengths they just checked: `!` reads are in range.
 */
/* eslint-disable @typescript-eslint/no-non-null-assertion */
import { ID_TYPES, MAX_MAPPING_ROWS, type EmulatorAudience, type IdType } from './model.js'

export type MappingAction = 'add' | 'delete'

export interface ValidatedMapping {
  action: MappingAction
  idSchema: IdType[]
  /**
   * `batch_data` as sent, every non-empty cell checked to be `{id, audience_ids}`; or, for a body
   * read by scanMappingBody, its ids and the one list of audiences they all go to.
   */
  cells: { rows: unknown[][] } | { ids: (string | null)[]; audienceIds: string[] }
  /** Whether any id has an upper-case hex digit (ids are stored lower case; most bodies have none to convert). */
  upperCase: boolean
}

const ID_TYPE_SET: ReadonlySet<string> = new Set(ID_TYPES)

/** charCode or byte → 1 for 0-9/a-f, 2 for A-F, 0 otherwise. */
const HEX_CLASS = new Uint8Array(256)
for (let c = 48; c <= 57; c++) HEX_CLASS[c] = 1
for (let c = 97; c <= 102; c++) HEX_CLASS[c] = 1
for (let c = 65; c <= 70; c++) HEX_CLASS[c] = 2

/** 0: not a hex digest of `length` characters; 1: one in lower case; 3: one with an upper-case digit. */
function hexDigestCase(value: string, length: number): 0 | 1 | 3 {
  if (value.length !== length) return 0
  let classes = 0
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i)
    if (c >= 128 || HEX_CLASS[c] === 0) return 0
    classes |= HEX_CLASS[c]!
  }
  return classes === 1 ? 1 : 3
}

function digestLength(type: IdType): number {
  return type.endsWith('_MD5') ? 32 : 64
}

/** Parses a list of advertiser/audience ids given as strings (v1.3) or safe integers (v1.2 habit). */
export function parseIdList(value: unknown, field: string): string[] | string {
  if (!Array.isArray(value)) return `${field} must be a list of ids`
  if (value.length === 0) return `${field} must not be empty`
  const out: string[] = new Array(value.length)
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i]
    if (typeof v === 'string' && v.length > 0) out[i] = v
    else if (typeof v === 'number' && Number.isSafeInteger(v)) out[i] = String(v)
    else return `${field}[${i}] must be an id string`
  }
  return out
}

/** What every mapping body is checked for before its rows: action and id_schema. */
function validateHead(body: { action?: unknown; id_schema?: unknown }): { action: MappingAction; idSchema: IdType[] } | string {
  let action: MappingAction
  if (body.action === undefined) action = 'add'
  else if (typeof body.action === 'string' && (body.action.toLowerCase() === 'add' || body.action.toLowerCase() === 'delete')) {
    action = body.action.toLowerCase() as MappingAction
  } else return `action must be one of add, delete (got ${JSON.stringify(body.action)})`

  const rawSchema = body.id_schema
  if (rawSchema === undefined) return 'id_schema: Missing data for required field.'
  if (!Array.isArray(rawSchema) || rawSchema.length === 0) return 'id_schema must be a non-empty list of id types'
  const idSchema: IdType[] = []
  for (let i = 0; i < rawSchema.length; i++) {
    const raw: unknown = rawSchema[i]
    const type = typeof raw === 'string' ? raw.toUpperCase() : ''
    if (!ID_TYPE_SET.has(type)) {
      return `id_schema[${i}] ${JSON.stringify(raw)} is not one of ${ID_TYPES.join(', ')}`
    }
    if (idSchema.includes(type as IdType)) return `id_schema contains duplicate ${type}`
    idSchema.push(type as IdType)
  }
  return { action, idSchema }
}

/** Why audience `audienceId` may not be written by a request for `advertiserIds`, or undefined when it may. */
function audienceProblem(audienceId: string, advertiserIds: readonly string[], audiences: ReadonlyMap<string, EmulatorAudience>): string | undefined {
  const audience = audiences.get(audienceId)
  if (!audience) return `audience ${audienceId} does not belong to advertiser_ids (no such audience)`
  if (!advertiserIds.includes(audience.advertiserId)) return `audience ${audienceId} does not belong to advertiser_ids`
  return undefined
}

/**
 * Validates everything but the advertiser permission (checked by the route before, since it answers 40001).
 * Returns the validated request or a 40002 message naming the first problem.
 */
export function validateMapping(
  body: Record<string, unknown>,
  advertiserIds: readonly string[],
  audiences: ReadonlyMap<string, EmulatorAudience>
): ValidatedMapping | string {
  if (body instanceof ScannedMappingBody) return validateScanned(body, advertiserIds, audiences)
  const head = validateHead(body)
  if (typeof head === 'string') return head
  const { action, idSchema } = head
  const width = idSchema.length
  const lengths = idSchema.map(digestLength)

  const rows = body.batch_data
  if (rows === undefined) return 'batch_data: Missing data for required field.'
  if (!Array.isArray(rows)) return 'batch_data must be a list of rows'
  if (rows.length === 0) return 'batch_data must not be empty'
  if (rows.length > MAX_MAPPING_ROWS) {
    return `batch_data has ${rows.length} rows; at most ${MAX_MAPPING_ROWS} rows are allowed per request`
  }

  // Rows usually repeat the same audience id; remember the last one found valid to skip lookups.
  let lastAudienceId: unknown = undefined // JSON never yields undefined, so the first id is always looked up
  let upperCase = false
  for (let r = 0; r < rows.length; r++) {
    const row: unknown = rows[r]
    if (!Array.isArray(row)) return `batch_data[${r}] must be a list`
    if (row.length !== width) return `batch_data[${r}] has ${row.length} entries but id_schema has ${width}`
    for (let c = 0; c < width; c++) {
      const cell: unknown = row[c]
      if (typeof cell !== 'object' || cell === null || Array.isArray(cell)) {
        return `batch_data[${r}][${c}] must be an object ({} when there is no ${idSchema[c]})`
      }
      const { id, audience_ids: audienceIds } = cell as { id?: unknown; audience_ids?: unknown }
      if (id === undefined && audienceIds === undefined) {
        if (hasOwnKeys(cell)) return `batch_data[${r}][${c}] must be {} or have id and audience_ids`
        continue
      }
      if (typeof id !== 'string') return `batch_data[${r}][${c}].id must be a string`
      const digestCase = hexDigestCase(id, lengths[c]!)
      if (digestCase === 3) upperCase = true
      else if (digestCase === 0) {
        return `batch_data[${r}][${c}].id is not ${lengths[c] === 32 ? 'an MD5' : 'a SHA-256'} hex digest (${idSchema[c]})`
      }
      if (!Array.isArray(audienceIds) || audienceIds.length === 0) {
        return `batch_data[${r}][${c}].audience_ids must be a non-empty list of audience ids`
      }
      for (let a = 0; a < audienceIds.length; a++) {
        const audienceId: unknown = audienceIds[a]
        if (audienceId === lastAudienceId) continue
        if (typeof audienceId !== 'string') return `batch_data[${r}][${c}].audience_ids[${a}] must be a string`
        const problem = audienceProblem(audienceId, advertiserIds, audiences)
        if (problem) return problem
        lastAudienceId = audienceId
      }
    }
  }
  return { action, idSchema, cells: { rows }, upperCase }
}

function hasOwnKeys(o: object): boolean {
  for (const key in o) if (Object.prototype.hasOwnProperty.call(o, key)) return true
  return false
}

/** Adds/removes every id of a validated body to/from its audiences (set semantics: idempotent). */
export function applyMapping(mapping: ValidatedMapping, audiences: ReadonlyMap<string, EmulatorAudience>): void {
  const { cells } = mapping
  if ('ids' in cells) applyIds(mapping, cells.ids, cells.audienceIds, audiences)
  else applyRows(mapping, cells.rows, audiences)
}

function applyRows(mapping: ValidatedMapping, rows: unknown[][], audiences: ReadonlyMap<string, EmulatorAudience>): void {
  const { idSchema, upperCase } = mapping
  const add = mapping.action === 'add'
  const width = idSchema.length
  let lastAudienceId = ''
  let lastAudience: EmulatorAudience | undefined
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]
    for (let c = 0; c < width; c++) {
      const cell = row![c] as { id?: string; audience_ids?: string[] }
      if (cell.id === undefined) continue
      const id = upperCase ? cell.id.toLowerCase() : cell.id
      const type = idSchema[c]!
      const audienceIds = cell.audience_ids as string[]
      for (let a = 0; a < audienceIds.length; a++) {
        const audienceId = audienceIds[a]!
        if (audienceId !== lastAudienceId || lastAudience === undefined) {
          lastAudience = audiences.get(audienceId) as EmulatorAudience
          lastAudienceId = audienceId
        }
        const members = lastAudience.members[type]
        if (add) members.add(id)
        else members.delete(id)
      }
    }
  }
}

/** Column by column into each audience's set of that id type: ids of a scanned body, which all go to the same audiences. */
function applyIds(mapping: ValidatedMapping, ids: (string | null)[], audienceIds: string[], audiences: ReadonlyMap<string, EmulatorAudience>): void {
  const { idSchema, upperCase } = mapping
  const add = mapping.action === 'add'
  const width = idSchema.length
  for (const audienceId of audienceIds) {
    const audience = audiences.get(audienceId) as EmulatorAudience
    for (let c = 0; c < width; c++) {
      const members = audience.members[idSchema[c]!]
      for (let i = c; i < ids.length; i += width) {
        const id = ids[i]!
        if (id === null) continue
        const value = upperCase ? id.toLowerCase() : id
        if (add) members.add(value)
        else members.delete(value)
      }
    }
  }
}

/**
 * The rows of a scanned body: the checks validateMapping makes of parsed rows, on ids already known
 * to be hex digits in cells of the right shape. Anything refused is refused by validateMapping on
 * the parsed body instead, so that the message is the one it gives (and names the first bad cell).
 */
function validateScanned(
  body: ScannedMappingBody,
  advertiserIds: readonly string[],
  audiences: ReadonlyMap<string, EmulatorAudience>
): ValidatedMapping | string {
  const general = () => validateMapping(body.parse(), advertiserIds, audiences)
  const head = validateHead(body)
  if (typeof head === 'string') return head
  const { idSchema } = head
  const width = idSchema.length
  if (body.width !== width || body.ids.length / width > MAX_MAPPING_ROWS) return general()
  const lengths = idSchema.map(digestLength)
  const { ids } = body
  for (let c = 0; c < width; c++) {
    const length = lengths[c]
    for (let i = c; i < ids.length; i += width) {
      const id = ids[i]!
      if (id !== null && id.length !== length) return general()
    }
  }
  for (const audienceId of body.audienceIds) if (audienceProblem(audienceId, advertiserIds, audiences)) return general()
  return { ...head, cells: { ids, audienceIds: body.audienceIds }, upperCase: body.upperCase }
}

const QUOTE = 34
const COMMA = 44
const BACKSLASH = 92
const OPEN_LIST = 91
const CLOSE_LIST = 93
const OPEN_OBJECT = 123
const CLOSE_OBJECT = 125

/**
 * A `/segment/mapping/` body read straight from its bytes — when it is in the compact form this
 * service and Segment's destination send: these keys in this order, no whitespace, strings of
 * printable ASCII without escapes, every id hex digits, one list of audience ids shared by every cell:
 *
 *   {"advertiser_ids":["…"],"action":"add","id_schema":["…",…],"batch_data":[[{"id":"…","audience_ids":["…"]},{}],…]}
 *
 * JSON.parse would build 30,000 cells of a 10,000-row body only for them to be checked and dropped
 * (parsing and checking cost the emulator more than applying). Head fields read as JSON.parse
 * gives them; `batch_data` and the request log's copy are parsed from the bytes when asked for.
 */
export class ScannedMappingBody {
  constructor(
    readonly bytes: Buffer,
    readonly advertiser_ids: string[],
    readonly action: string,
    readonly id_schema: string[],
    /** Cells per row: the same in every row. */
    readonly width: number,
    /** Each cell's id, row after row; null for `{}`. */
    readonly ids: (string | null)[],
    /** The audience_ids of every non-empty cell (none when every cell is `{}`). */
    readonly audienceIds: string[],
    /** Whether an id has an upper-case hex digit. */
    readonly upperCase: boolean
  ) {}

  private parsed: Record<string, unknown> | undefined

  /** The body as JSON.parse gives it (parsed once, when first asked for). */
  parse(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.bytes.toString('utf8')) as Record<string, unknown>)
  }

  get batch_data(): unknown {
    return this.parse().batch_data
  }

  /** Serialised (request log, control API) as the body that was sent. */
  toJSON(): unknown {
    return this.parse()
  }
}

/** The index after a string at `at` of printable ASCII without escapes, or -1. */
function plainStringEnd(bytes: Buffer, at: number): number {
  if (bytes[at] !== QUOTE) return -1
  for (let i = at + 1; i < bytes.length; i++) {
    const c = bytes[i]!
    if (c === QUOTE) return i + 1
    if (c === BACKSLASH || c < 32 || c > 126) return -1
  }
  return -1
}

/** `["a","b"]` of plain strings at `at` into `out`: the index after it, or -1. */
function plainStringList(bytes: Buffer, at: number, out: string[]): number {
  if (at < 0 || bytes[at] !== OPEN_LIST) return -1
  let i = at + 1
  for (;;) {
    const end = plainStringEnd(bytes, i)
    if (end < 0) return -1
    out.push(bytes.toString('latin1', i + 1, end - 1))
    i = end
    const c = bytes[i++]
    if (c === CLOSE_LIST) return i
    if (c !== COMMA) return -1
  }
}

/** The index after `literal` (ASCII) when the bytes have it at `at`, or -1. */
function literalEnd(bytes: Buffer, at: number, literal: Uint8Array): number {
  if (at < 0 || at + literal.length > bytes.length) return -1
  for (let k = 0; k < literal.length; k++) if (bytes[at + k] !== literal[k]) return -1
  return at + literal.length
}

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))
const HEAD = ascii('{"advertiser_ids":')
const ACTION = ascii(',"action":')
const ID_SCHEMA = ascii(',"id_schema":')
const BATCH_DATA = ascii(',"batch_data":[')
const CELL_ID = ascii('{"id":"')
const CELL_AUDIENCES = ascii('","audience_ids":')

/** A mapping body in the compact form (see ScannedMappingBody), or undefined for any other: JSON.parse it (docs/PERFORMANCE.md §2). */
export function scanMappingBody(bytes: Buffer): ScannedMappingBody | undefined {
  const advertiserIds: string[] = []
  const idSchema: string[] = []
  const actionAt = literalEnd(bytes, plainStringList(bytes, literalEnd(bytes, 0, HEAD), advertiserIds), ACTION)
  const actionEnd = actionAt < 0 ? -1 : plainStringEnd(bytes, actionAt)
  if (actionEnd < 0) return undefined
  const action = bytes.toString('latin1', actionAt + 1, actionEnd - 1)
  const rowsAt = literalEnd(bytes, plainStringList(bytes, literalEnd(bytes, actionEnd, ID_SCHEMA), idSchema), BATCH_DATA)
  const rows = rowsAt < 0 ? undefined : scanRows(bytes, rowsAt)
  if (!rows || rows.end !== bytes.length - 1 || bytes[rows.end] !== CLOSE_OBJECT) return undefined
  return new ScannedMappingBody(bytes, advertiserIds, action, idSchema, rows.width, rows.ids, rows.audienceIds, rows.upperCase)
}

/** The rows of `batch_data` from the first one (at `at`) to its closing bracket. */
function scanRows(bytes: Buffer, at: number): { end: number; width: number; ids: (string | null)[]; audienceIds: string[]; upperCase: boolean } | undefined {
  const ids: (string | null)[] = []
  const audienceIds: string[] = []
  let audienceList: Uint8Array | undefined
  let classes = 0
  let width = -1
  let i = at
  for (;;) {
    if (bytes[i++] !== OPEN_LIST) return undefined
    let cells = 0
    for (;;) {
      if (bytes[i] !== OPEN_OBJECT) return undefined
      if (bytes[i + 1] === CLOSE_OBJECT) {
        ids.push(null)
        i += 2
      } else {
        i = literalEnd(bytes, i, CELL_ID)
        if (i < 0) return undefined
        const start = i
        for (let k = HEX_CLASS[bytes[i]!] ?? 0; k > 0; k = HEX_CLASS[bytes[++i] ?? 0] ?? 0) classes |= k
        // A string of its own (latin1 decoding copies), not a view that would keep the whole body alive in the members' set.
        ids.push(bytes.toString('latin1', start, i))
        i = literalEnd(bytes, i, CELL_AUDIENCES)
        if (i < 0) return undefined
        if (!audienceList) {
          const end = plainStringList(bytes, i, audienceIds)
          if (end < 0) return undefined
          audienceList = bytes.subarray(i, end)
          i = end
        } else {
          // Every cell names the same audiences (else: the general path).
          i = literalEnd(bytes, i, audienceList)
          if (i < 0) return undefined
        }
        if (bytes[i++] !== CLOSE_OBJECT) return undefined
      }
      cells++
      const c = bytes[i++]
      if (c === CLOSE_LIST) break
      if (c !== COMMA) return undefined
    }
    if (width < 0) width = cells
    else if (cells !== width) return undefined
    const c = bytes[i++]
    if (c === CLOSE_LIST) return { end: i, width, ids, audienceIds, upperCase: (classes & 2) !== 0 }
    if (c !== COMMA) return undefined
  }
}
