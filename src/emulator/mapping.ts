/**
 * `/segment/mapping/` body validation and application — the emulator's hot path.
 * A 10,000-row body is checked in one pass without allocating per cell, then applied in a second pass
 * (the whole body is validated before anything changes: all or nothing, like TikTok's single result code).
 */
import { ID_TYPES, MAX_MAPPING_ROWS, type EmulatorAudience, type IdType } from './state.js'

export type MappingAction = 'add' | 'delete'

export interface ValidatedMapping {
  action: MappingAction
  idSchema: IdType[]
  /** `batch_data` as sent; every non-empty cell has been checked to be `{id, audience_ids}`. */
  rows: unknown[][]
  /** Whether any id has an upper-case hex digit (ids are stored lower case; most bodies have none to convert). */
  upperCase: boolean
}

const ID_TYPE_SET: ReadonlySet<string> = new Set(ID_TYPES)

/** charCode → 1 for 0-9/a-f, 2 for A-F, 0 otherwise. */
const HEX_CLASS = new Uint8Array(128)
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
    classes |= HEX_CLASS[c]
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

/**
 * Validates everything but the advertiser permission (checked by the route before, since it answers 40001).
 * Returns the validated request or a 40002 message naming the first problem.
 */
export function validateMapping(
  body: Record<string, unknown>,
  advertiserIds: readonly string[],
  audiences: ReadonlyMap<string, EmulatorAudience>,
): ValidatedMapping | string {
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
      const digestCase = hexDigestCase(id, lengths[c])
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
        const audience = audiences.get(audienceId)
        if (!audience) return `audience ${audienceId} does not belong to advertiser_ids (no such audience)`
        if (!advertiserIds.includes(audience.advertiserId)) return `audience ${audienceId} does not belong to advertiser_ids`
        lastAudienceId = audienceId
      }
    }
  }
  return { action, idSchema, rows, upperCase }
}

function hasOwnKeys(o: object): boolean {
  for (const key in o) if (Object.prototype.hasOwnProperty.call(o, key)) return true
  return false
}

/** Adds/removes every id of a validated body to/from its audiences (set semantics: idempotent). */
export function applyMapping(mapping: ValidatedMapping, audiences: ReadonlyMap<string, EmulatorAudience>): void {
  const { idSchema, rows, upperCase } = mapping
  const add = mapping.action === 'add'
  const width = idSchema.length
  let lastAudienceId = ''
  let lastAudience: EmulatorAudience | undefined
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]
    for (let c = 0; c < width; c++) {
      const cell = row[c] as { id?: string; audience_ids?: string[] }
      if (cell.id === undefined) continue
      const id = upperCase ? cell.id.toLowerCase() : cell.id
      const type = idSchema[c]
      const audienceIds = cell.audience_ids as string[]
      for (let a = 0; a < audienceIds.length; a++) {
        const audienceId = audienceIds[a]
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
