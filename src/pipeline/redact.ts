/**
 * Masks identifiers in an event kept as a failure sample, so that no raw email, phone or mobile id
 * is stored past routing (SPEC §5 item 8, issue "no raw PII past hashing"). Enough stays to debug
 * a mapping: the shape, the domain of an email, the last digits of a phone.
 */
const PII_KEY = /e-?mail|phone|mobile|advertising_?id|idfa|gaid|aaid|maid/i

export function maskIdentifier(key: string, value: string): string {
  if (/^[0-9a-f]{64}$/i.test(value)) return value // already a hash
  if (/mail/i.test(key)) {
    const at = value.lastIndexOf('@')
    return at > 0 ? `${value[0]}***${value.slice(at)}` : `*** (${value.length} chars)`
  }
  if (/phone|mobile/i.test(key)) return value.length > 2 ? `***${value.slice(-2)}` : '***'
  return value.length > 4 ? `***${value.slice(-4)}` : '***'
}

export function redactEvent(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return PII_KEY.test(key) ? maskIdentifier(key, value) : value
  if (Array.isArray(value)) return value.map((v) => redactEvent(v, key))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = redactEvent(v, k)
    return out
  }
  return value
}
