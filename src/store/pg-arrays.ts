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

function header(buf: Buffer, elementType: number, length: number, nulls = false): number {
  buf.writeInt32BE(length === 0 ? 0 : 1, 0)
  buf.writeInt32BE(nulls ? 1 : 0, 4)
  buf.writeUInt32BE(elementType, 8)
  if (length === 0) return 12
  buf.writeInt32BE(length, 12)
  buf.writeInt32BE(1, 16)
  return HEADER
}

/** Whether `values` holds a NULL; throws if an element is neither NULL (where allowed) nor a safe integer. */
function integers(values: ArrayLike<number | null>, what: string, nullable: boolean): boolean {
  let nulls = false
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null && nullable) nulls = true
    else if (!Number.isSafeInteger(v)) throw new TypeError(`${what} array: element ${i} is ${v}, not an integer`)
  }
  return nulls
}

/** A `bigint[]` parameter. */
export function int8Array(values: ArrayLike<number | null>): Buffer {
  const nulls = integers(values, 'bigint', true)
  const buf = Buffer.allocUnsafe(HEADER + values.length * 12)
  let at = header(buf, INT8, values.length, nulls)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null || v === undefined) {
      buf.writeInt32BE(-1, at)
      at += 4
      continue
    }
    const hi = Math.floor(v / TWO_32)
    buf.writeInt32BE(8, at)
    buf.writeInt32BE(hi, at + 4)
    buf.writeUInt32BE(v - hi * TWO_32, at + 8)
    at += 12
  }
  return buf.subarray(0, at)
}

/** An `integer[]` parameter. */
export function int4Array(values: ArrayLike<number>): Buffer {
  integers(values, 'integer', false)
  const buf = Buffer.allocUnsafe(HEADER + values.length * 8)
  let at = header(buf, INT4, values.length)
  for (let i = 0; i < values.length; i++) {
    buf.writeInt32BE(4, at)
    buf.writeInt32BE(values[i] as number, at + 4)
    at += 8
  }
  return buf.subarray(0, at)
}

/** A `text[]` parameter. */
export function textArray(values: readonly string[]): Buffer {
  let size = HEADER
  const lengths = new Array<number>(values.length)
  for (let i = 0; i < values.length; i++) size += 4 + (lengths[i] = Buffer.byteLength(values[i] as string))
  const buf = Buffer.allocUnsafe(size)
  let at = header(buf, TEXT, values.length)
  for (let i = 0; i < values.length; i++) {
    const n = lengths[i] as number
    buf.writeInt32BE(n, at)
    buf.write(values[i] as string, at + 4, n, 'utf8')
    at += 4 + n
  }
  return buf.subarray(0, at)
}
