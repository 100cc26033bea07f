/**
 * Where a mirror sync's member list comes from. A file (CSV or NDJSON, src/cli/members.ts) is one
 * source; a warehouse query read through a cursor would be another: anything that yields the rows
 * one at a time, so that no list is ever held whole.
 */
export interface Member {
  email?: string
  phone?: string
  advertising_id?: string
}

/** A row of the list: a member, or why the row cannot be one (`line` numbers it in its source). */
export type MemberLine = { line: number; member: Member } | { line: number; error: string }

export interface MemberSource {
  /** The rows, read as they are iterated (a source is read once per sync). */
  rows(): AsyncIterable<MemberLine>
}
