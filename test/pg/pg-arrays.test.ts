/**
 * The binary array parameters read back on a real server as the values they encode: bigint (with
 * NULLs, negatives and values past 2^32), integer and text (quotes, backslashes, commas, braces,
 * newlines, non-ASCII), and empty arrays; a non-integer is refused before anything is sent.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { int4Array, int8Array, textArray } from '../../src/store/pg-arrays.js'
import { openPostgres } from '../../src/store/postgres.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'

const skip = await pgSkipReason()
after(() => dropAllPgDatabases())

test('binary array parameters: bigint, integer and text read back as sent', { skip }, async () => {
  const pg = await createPgDatabase()
  const db = openPostgres(pg.url)
  try {
    const big = [0, 1, -1, 2 ** 32, 2 ** 32 + 7, -(2 ** 32) - 3, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1733500000000, null]
    const ints = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)]
    const texts = ['', 'plain', 'a "quoted", {braced} \\ back', 'line\nbreak\ttab', 'héllo ✓ 日本', 'NULL', 'x'.repeat(100_000)]
    const rows = await db.all<{ v: string | null }>('SELECT v::text AS v FROM unnest($1::bigint[]) WITH ORDINALITY AS u(v, i) ORDER BY i', [int8Array(big)])
    assert.deepEqual(
      rows.map((r) => (r.v === null ? null : Number(r.v))),
      big
    )
    const r4 = await db.all<{ v: number }>('SELECT v FROM unnest($1::integer[]) WITH ORDINALITY AS u(v, i) ORDER BY i', [int4Array(ints)])
    assert.deepEqual(
      r4.map((r) => r.v),
      ints
    )
    const rt = await db.all<{ v: string }>('SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i', [textArray(texts)])
    assert.deepEqual(
      rt.map((r) => r.v),
      texts
    )
    const empty = await db.get<{ a: number; b: number; c: number }>(
      'SELECT cardinality($1::bigint[]) AS a, cardinality($2::integer[]) AS b, cardinality($3::text[]) AS c',
      [int8Array([]), int4Array([]), textArray([])]
    )
    assert.deepEqual(empty, { a: 0, b: 0, c: 0 })
  } finally {
    await db.close()
  }
})

test('a non-integer element is refused with the element named', () => {
  assert.throws(() => int8Array([1, 2.5]), /bigint array: element 1 is 2.5/)
  assert.throws(() => int4Array([Number.NaN]), /integer array: element 0 is NaN/)
  assert.throws(() => int4Array([null as unknown as number]), /integer array: element 0 is null/)
  assert.throws(() => int4Array([2 ** 31]), RangeError)
})
