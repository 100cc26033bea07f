/** JSON text written directly where building values only to serialise them costs more (hot paths). */

/** Text that is its own JSON string body: hashes (hex), ids and tokens (no quote, backslash or control character). */
const PLAIN = /^[0-9A-Za-z_.:+/=-]*$/

/** `JSON.stringify(s)`, without its escaping scan for the usual hex hashes and ids. */
export function jsonString(s: string): string {
  return PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s)
}

/** `JSON.stringify(ids).slice(1, -1)`: the items of a JSON array of strings and nulls, without its brackets. */
export function jsonItems(ids: readonly (string | null | undefined)[]): string {
  let out = ''
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]
    if (i > 0) out += ','
    out += id === null || id === undefined ? 'null' : jsonString(id)
  }
  return out
}

/**
 * An upper bound of `Buffer.byteLength(JSON.stringify(value))` for JSON-parsed values, found without
 * serialising: a string counts 6 bytes per UTF-16 unit (the longest escape, `\uXXXX`) plus quotes,
 * a number 25 (the longest a double prints), every separator once. It stops counting once past
 * `limit` (so a cycle or a very deep value ends early) and reports Infinity past a depth of 1,000.
 * About 2.5× cheaper than serialising: what a size limit needs when nearly every value is far below it.
 */
export function jsonBytesBound(value: unknown, limit: number): number {
  let total = 0
  const walk = (v: unknown, depth: number): void => {
    if (total > limit) return
    if (depth > 1000) {
      total = Infinity
      return
    }
    switch (typeof v) {
      case 'string':
        total += 6 * v.length + 2
        return
      case 'number':
        total += 25
        return
      case 'boolean':
        total += 5
        return
      case 'object':
        if (v === null) total += 4
        else if (Array.isArray(v)) {
          total += 2 + v.length
          for (let i = 0; i < v.length; i++) walk(v[i], depth + 1)
        } else {
          total += 2
          for (const key in v) {
            total += 6 * key.length + 4
            walk((v as Record<string, unknown>)[key], depth + 1)
          }
        }
        return
      default:
        // Not from JSON (undefined, a function, a bigint): serialising decides what it is.
        total = Infinity
    }
  }
  walk(value, 0)
  return total
}
