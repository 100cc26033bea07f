/**
 * Reads a full member list for mirror sync: CSV with a header naming `email`, `phone`,
 * `advertising_id` columns (any order, other columns ignored), or NDJSON objects with those keys.
 * Both stream: one row at a time, whatever the file's size.
 */
import { parse } from 'csv-parse'
import { createReadStream } from 'node:fs'
import type { Member, MemberLine, MemberSource } from '../mirror/source.js'
import { readNdjson } from './ndjson.js'

const COLUMNS = ['email', 'phone', 'advertising_id'] as const

function toMember(value: unknown): Member | string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'a member must be an object with email, phone or advertising_id'
  const v = value as Record<string, unknown>
  const m: Member = {}
  for (const k of COLUMNS) {
    if (v[k] === undefined || v[k] === null || v[k] === '') continue
    if (typeof v[k] !== 'string' && typeof v[k] !== 'number') return `"${k}" must be a string`
    m[k] = String(v[k])
  }
  if (!m.email && !m.phone && !m.advertising_id) return 'needs at least one of email, phone, advertising_id'
  return m
}

async function* readCsv(file: string): AsyncGenerator<MemberLine> {
  const parser = createReadStream(file).pipe(
    parse({ columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()), skip_empty_lines: true, trim: true, relax_column_count: true })
  )
  let first = true
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    const line = (parser.info?.lines as number | undefined) ?? 0
    if (first) {
      first = false
      if (!COLUMNS.some((c) => c in record)) {
        yield { line: 1, error: `the header must name at least one of ${COLUMNS.join(', ')} (got: ${Object.keys(record).join(', ')})` }
        return
      }
    }
    const m = toMember(record)
    yield typeof m === 'string' ? { line, error: m } : { line, member: m }
  }
}

export async function* readMembers(file: string): AsyncGenerator<MemberLine> {
  if (/\.(ndjson|jsonl|json)$/i.test(file)) {
    for await (const item of readNdjson(file)) {
      if (item.error) yield { line: item.line, error: item.error }
      else {
        const m = toMember(item.value)
        yield typeof m === 'string' ? { line: item.line, error: m } : { line: item.line, member: m }
      }
    }
    return
  }
  yield* readCsv(file)
}

/** A member file as a mirror sync source. */
export function fileMemberSource(file: string): MemberSource {
  return { rows: () => readMembers(file) }
}
