/**
 * Array parameters in PostgreSQL's binary array format (what `array_recv` reads), for the columns of
 * a group commit (`unnest($1::bigint[], $2::text[])`). node-postgres sends a Buffer parameter as
 * binary, so neither side escapes or parses an array literal: pg's escapeElement and the server's
 * array_in had to walk every character of the pack bodies, quotes and all.
 *
 * The element type is part of the format and must be the parameter's type, so each kind has its own
 * encoder; only bigint elements may be NULL (a pack's event range is, when it holds no event).
 */

const INT4 = 23
const INT8 = 20
const TEXT = 25
/** ndim, flags (1: NULLs among the elements), element type, then the one dimension's length and lower bound. */
const HEADER = 20
const TWO_32 = 2 ** 32

/** Writes the header into `buf`'s first bytes; returns where the elements start. */
function header(buf: Buffer, elementType: number, length: number, nulls: boolean): number {
  buf.writeInt32BE(length === 0 ? 0 : 1, 0)
  buf.writeInt32BE(nulls ? 1 : 0, 4)
  buf.writeUInt32BE(elementType, 8)
  if (length === 0) return 12
  buf.writeInt32BE(length, 12)
  buf.writeInt32BE(1, 16)
  return HEADER
}

function notAnInteger(what: string, i: number, v: unknown): TypeError {
  return new TypeError(`${what} array: element ${i} is ${v}, not an integer`)
}

/** A `bigint[]` parameter. */
export function int8Array(values: ArrayLike<number | null>): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + values.length * 12)
  let at = HEADER
  let nulls = false
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null) {
      nulls = true
      buf.writeInt32BE(-1, at)
      at += 4
      continue
    }
    if (!Number.isSafeInteger(v)) throw notAnInteger('bigint', i, v)
    const hi = Math.floor((v as number) / TWO_32)
    buf.writeInt32BE(8, at)
    buf.writeInt32BE(hi, at + 4)
    buf.writeUInt32BE((v as number) - hi * TWO_32, at + 8)
    at += 12
  }
  return finish(buf, INT8, values.length, nulls, at)
}

/** An `integer[]` parameter (writeInt32BE refuses values outside its range). */
export function int4Array(values: ArrayLike<number>): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + values.length * 8)
  let at = HEADER
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (!Number.isSafeInteger(v)) throw notAnInteger('integer', i, v)
    buf.writeInt32BE(4, at)
    buf.writeInt32BE(v as number, at + 4)
    at += 8
  }
  return finish(buf, INT4, values.length, false, at)
}

/** Writes the header once the elements are (whether any is NULL is known then); an empty array is its header alone. */
function finish(buf: Buffer, elementType: number, length: number, nulls: boolean, end: number): Buffer {
  const elements = header(buf, elementType, length, nulls)
  return buf.subarray(0, length === 0 ? elements : end)
}

/** A `text[]` parameter. */
export function textArray(values: readonly string[]): Buffer {
  let size = HEADER
  const lengths = new Array<number>(values.length)
  for (let i = 0; i < values.length; i++) size += 4 + (lengths[i] = Buffer.byteLength(values[i] as string))
  const buf = Buffer.allocUnsafe(size)
  let at = header(buf, TEXT, values.length, false)
  for (let i = 0; i < values.length; i++) {
    const n = lengths[i] as number
    buf.writeInt32BE(n, at)
    buf.write(values[i] as string, at + 4, n, 'utf8')
    at += 4 + n
  }
  return buf.subarray(0, at)
}
