/**
 * Migration 10, data step (frozen: a copy of the code as version 10 ran it, never an import of live
 * code): every kept failure sample (events.body) is redacted again as version 10 redacted new ones —
 * earlier versions masked only identifier keys, not emails or phones elsewhere (a userId that is an
 * email). The redaction below is src/pipeline/redact.ts as it was then.
 */
import type { Db } from '../db.js'

const PII_KEY = /e-?mail|phone|mobile|advertising_?id|idfa|gaid|aaid|maid/i

function maskIdentifier(key: string, value: string): string {
  if (/^[0-9a-f]{64}$/i.test(value)) return value // already a hash
  if (/mail/i.test(key)) {
    const at = value.lastIndexOf('@')
    return at > 0 ? `${value[0]}***${value.slice(at)}` : `*** (${value.length} chars)`
  }
  if (/phone|mobile/i.test(key)) return value.length > 2 ? `***${value.slice(-2)}` : '***'
  return value.length > 4 ? `***${value.slice(-4)}` : '***'
}

// Loose on purpose (a false positive only masks a little more): local@domain.tld anywhere in a text.
const EMAIL_IN_TEXT = /[^\s@<>()[\]{},;:"'`]+@[^\s@<>()[\]{},;:"'`]+\.[^\s@<>()[\]{},;:"'`.]+/g
// International numbers (`+` then 7 to 15 digits, with the usual separators) anywhere in a text.
const INTERNATIONAL_PHONE_IN_TEXT = /\+\d(?:[\s().-]*\d){6,14}/g
// North American national numbers written with separators: (415) 555-0123, 415-555-0123, 415.555.0123.
const NATIONAL_PHONE_IN_TEXT = /(?<![\w.:+-])\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?![\w:-])/g
// A whole value that is only a number (7 to 15 digits, separators allowed), unless it reads as a date.
const PHONE_VALUE = /^\+?[\d\s().-]+$/
const DATE_VALUE = /^\d{4}-\d{2}-\d{2}$/

const maskPhone = (phone: string): string => `***${phone.slice(-2)}`

/** `text` with the email addresses and phone numbers in it masked (as maskIdentifier does), the rest kept. */
function redactText(text: string): string {
  // The common case (no `@`, no run of digits) costs two scans and no allocation.
  const hasAt = text.includes('@')
  if (!hasAt && !/\d{3}/.test(text)) return text
  let out = hasAt ? text.replace(EMAIL_IN_TEXT, (email) => maskIdentifier('email', email)) : text
  if (PHONE_VALUE.test(out) && !DATE_VALUE.test(out)) {
    const digits = out.replace(/\D/g, '').length
    if (digits >= 7 && digits <= 15) return maskPhone(out.trim())
  }
  out = out.replace(INTERNATIONAL_PHONE_IN_TEXT, maskPhone).replace(NATIONAL_PHONE_IN_TEXT, maskPhone)
  return out
}

function redactEvent(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return PII_KEY.test(key) ? maskIdentifier(key, value) : redactText(value)
  // A phone sent as a JSON number is as much a phone.
  if (typeof value === 'number' && PII_KEY.test(key)) return maskIdentifier(key, String(value))
  if (Array.isArray(value)) return value.map((v) => redactEvent(v, key))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[redactText(k)] = redactEvent(v, k)
    return out
  }
  return value
}

export async function redactKeptSamples(db: Db): Promise<void> {
  let after = 0
  for (;;) {
    const rows = await db.all<{ id: number; body: string }>(`SELECT id, body FROM events WHERE id > $1 AND body IS NOT NULL ORDER BY id LIMIT 200`, [after])
    if (rows.length === 0) return
    after = Number(rows.at(-1)?.id)
    for (const r of rows) {
      let event: unknown
      try {
        event = JSON.parse(r.body)
      } catch {
        event = r.body // not JSON: redacted as text
      }
      const body = JSON.stringify(redactEvent(event))
      if (body !== r.body) await db.run('UPDATE events SET body = $2 WHERE id = $1', [r.id, body])
    }
  }
}
