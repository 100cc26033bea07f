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

/** What {@link jsonBytesBound} reports for a value nested deeper than its `maxDepth`. */
export const TOO_DEEP = -1

/**
 * An upper bound of `Buffer.byteLength(JSON.stringify(value))` for JSON-parsed values, found without
 * serialising: a string counts 6 bytes per UTF-16 unit (the longest escape, `\uXXXX`) plus quotes,
 * a number 25 (the longest a double prints), every separator once. It stops counting once past
 * `limit` (so a cycle ends early), and reports TOO_DEEP when objects and arrays nest more than
 * `maxDepth` levels before that (the value itself is level 1): its recursion never goes deeper, so
 * hostile nesting cannot overflow the stack. About 2.5× cheaper than serialising: what a size limit
 * needs when nearly every value is far below it.
 */
export function jsonBytesBound(value: unknown, limit: number, maxDepth: number): number {
  let total = 0
  let tooDeep = false
  // `depth`: the containers around `v`.
  const walk = (v: unknown, depth: number): void => {
    if (total > limit) return
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
        else if (depth >= maxDepth) {
          tooDeep = true
          total = Infinity
        } else if (Array.isArray(v)) {
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
  return tooDeep ? TOO_DEEP : total
}

/** Whether objects and arrays in `value` nest more than `maxDepth` levels (the value itself is level 1); never recurses deeper. */
export function jsonDeeperThan(value: unknown, maxDepth: number): boolean {
  const deeper = (v: unknown, depth: number): boolean => {
    if (typeof v !== 'object' || v === null) return false
    if (depth >= maxDepth) return true
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (deeper(v[i], depth + 1)) return true
    } else {
      for (const key in v) if (deeper((v as Record<string, unknown>)[key], depth + 1)) return true
    }
    return false
  }
  return deeper(value, 0)
}
