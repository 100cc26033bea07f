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
