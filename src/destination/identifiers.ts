/**
 * Identifier normalisation and hashing (SPEC §2.3), the hot path of the destination.
 *
 * `segment` reproduces the reference byte for byte (Segment @segment/action-destinations 3.497.0,
 * tiktok-audiences functions.js / syncAudience/functions.js / lib/hashing-utils.js):
 *   email: drop `+tag` (`replace(/\+.*@/, '@')`), drop every dot of the local part, lowercase, no
 *          trim, no validation; a 64-hex value (after that lowercasing) is passed through;
 *   phone, mobile id: hashed as given; a 64-hex value is passed through unchanged, even upper case.
 *   Two deliberate exceptions, both where the reference can only send garbage:
 *   - a whitespace-only value is "empty" (`{}`); the reference sends `{"id":""}`;
 *   - pre-hashed detection is anchored (exactly 64 hex chars) in every action; the legacy path of the
 *     reference uses an unanchored test, which would send a value *containing* 64 hex chars in clear.
 *
 * `recommended` gives the same hash wherever the reference produces a matchable value, and repairs
 * or rejects what can never match:
 *   email: trimmed, then as `segment`; must look like local@domain.tld, else rejected;
 *   phone: trimmed; formatted to E.164 with libphonenumber-js (`00` international prefix accepted,
 *          national numbers need `defaultPhoneRegion`); not a possible number → rejected;
 *   mobile id: trimmed; case kept. TikTok asks for "consistent case" and Engage forwards the id as
 *          the device reported it (IDFA upper, GAID lower), so re-casing would change the hash of
 *          every existing member; it is left to a mapping (`@case`) to choose;
 *   pre-hashed values: lowercased (the hex digest's case carries no meaning, TikTok's own hashes are
 *          lower case), never hashed twice;
 *   any kind: text with U+FFFD (invalid UTF-8), a control character (NUL…) or a lone surrogate is
 *          rejected — no real identifier contains them, and their hash can never match.
 * Every value gets a status so the identifier-quality report (SPEC §5 item 4) can count them.
 */
import { hash } from 'node:crypto'
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js'
import type { IdType } from '../tiktok/types.js'

export type NormalizationPolicy = 'segment' | 'recommended'
export type IdentifierKind = 'email' | 'phone' | 'advertising_id'
export type IdentifierStatus = 'hashed' | 'prehashed' | 'repaired' | 'rejected' | 'empty' | 'disabled'

/**
 * Why a value the mapping produced was not sent (counted per destination, identifier and reason in
 * Event Delivery and `/metrics`): `empty` is a whitespace-only value; the others are rejections.
 */
export type DropReason = 'invalid' | 'national_without_region' | 'invalid_utf8' | 'control_character' | 'lone_surrogate' | 'empty' | 'too_many_values'
/** Encoded in 3 bits where routed changes cross threads (route-batch.ts): at most 8 reasons. */
export const DROP_REASONS: readonly DropReason[] = [
  'invalid',
  'national_without_region',
  'invalid_utf8',
  'control_character',
  'lone_surrogate',
  'empty',
  'too_many_values'
]

export interface IdentifierOutcome {
  status: IdentifierStatus
  /** The 64-hex value to send, or null when nothing is sent for this identifier. */
  hash: string | null
  /** Why a value was repaired, rejected or passed through differently; absent when unremarkable. */
  reason?: string
  /** Set when a value was there but nothing is sent for it (rejected, or whitespace only). */
  drop?: DropReason
  /**
   * `recommended`, several values of one identifier (matching.ts): the outcomes of the values after
   * this one, each sent as a row of its own when it has a hash. Absent for a single value.
   */
  more?: IdentifierOutcome[]
  /** `recommended`: the id type sent when it is not the kind's usual one (an Android device's AAID_SHA256). */
  idType?: IdType
}

export type IdentifierReport = Record<IdentifierKind, IdentifierOutcome>

/**
 * The phone region a new destination starts with (console, admin API, config), shown as its value:
 * without one every national number is dropped. `null` (chosen explicitly) means none.
 */
export const DEFAULT_PHONE_REGION = 'US'

export interface IdentifierOptions {
  policy: NormalizationPolicy
  /** ISO 3166 region for phone numbers without country code (`recommended` only), e.g. 'US'. */
  defaultPhoneRegion?: string
}

/** One-shot `crypto.hash` (Node ≥ 20.12): about 3× faster than createHash().update().digest() per value. */
export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex')
}

/** Anchored: exactly 64 hex characters, either case (Segment's SmartHashing for sha256/hex). */
export function isSha256Hex(value: string): boolean {
  if (value.length !== 64) return false
  for (let i = 0; i < 64; i++) {
    const c = value.charCodeAt(i)
    // 0-9, A-F, a-f
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false
  }
  return true
}

const DISABLED: IdentifierOutcome = Object.freeze({ status: 'disabled', hash: null }) as IdentifierOutcome
const EMPTY: IdentifierOutcome = Object.freeze({ status: 'empty', hash: null }) as IdentifierOutcome
const WHITESPACE_ONLY: IdentifierOutcome = Object.freeze({
  status: 'empty',
  hash: null,
  reason: 'whitespace only',
  drop: 'empty'
}) as IdentifierOutcome

const rejected = (drop: DropReason, reason: string): IdentifierOutcome => ({ status: 'rejected', hash: null, reason, drop })

/**
 * Text no real identifier contains, whatever its kind (`recommended` only): U+FFFD is what invalid
 * UTF-8 decodes to; a control character (NUL included; tabs and line breaks are whitespace, handled
 * per kind) is no part of an address, a number or a device id; a lone surrogate cannot be encoded as
 * UTF-8 (it would be hashed as U+FFFD). One regex test on the common path.
 */
// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const SUSPECT = /[\u0000-\u0008\u000e-\u001f\u007f\ufffd\ud800-\udfff]/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function malformed(value: string): IdentifierOutcome | undefined {
  if (!SUSPECT.test(value)) return undefined
  if (value.includes('\ufffd')) return rejected('invalid_utf8', 'contains U+FFFD (the text was not valid UTF-8)')
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  if (/[\u0000-\u0008\u000e-\u001f\u007f]/.test(value)) return rejected('control_character', 'contains a NUL or another control character')
  if (LONE_SURROGATE.test(value)) return rejected('lone_surrogate', 'contains a lone surrogate (not encodable as UTF-8)')
  return undefined
}

/** Segment's email normaliser (applied to every domain, not only Gmail), as Segment writes it. */
export function segmentEmailNormalizationRegex(email: string): string {
  return email
    .replace(/\+.*@/, '@')
    .replace(/\.(?=.*@)/g, '')
    .toLowerCase()
}

/**
 * Segment's email normaliser (segmentEmailNormalizationRegex, same result): of the part before the
 * last `@`, what follows its first `+` is dropped and so are its dots; then lower case. Written out
 * because the regexes' look-ahead cost more than hashing the address (1.4 µs per event). Text with
 * a line terminator, where `.` stops matching, goes through the regexes.
 */
export function segmentEmailNormalization(email: string): string {
  const at = email.lastIndexOf('@')
  if (at < 0) return segmentEmailNormalizationRegex(email)
  // One pass: line terminators anywhere, and in the part before the last `@` its first `+` and
  // whether a dot comes before that.
  let end = at
  let dots = false
  for (let i = 0; i < email.length; i++) {
    const c = email.charCodeAt(i)
    if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return segmentEmailNormalizationRegex(email)
    if (i < end) {
      if (c === 43 /* + */) end = i
      else if (c === 46 /* . */) dots = true
    }
  }
  if (end === at && !dots) return email.toLowerCase()
  const local = email.slice(0, end)
  return ((dots ? local.replaceAll('.', '') : local) + email.slice(at)).toLowerCase()
}

// Deliberately loose: rejects only what cannot be an address (no @, no dot in the domain, spaces).
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

function prehashed(value: string, policy: NormalizationPolicy): IdentifierOutcome {
  if (policy === 'segment') return { status: 'prehashed', hash: value }
  const lower = value.toLowerCase()
  return lower === value ? { status: 'prehashed', hash: value } : { status: 'prehashed', hash: lower, reason: 'upper-case hex digest lowercased' }
}

function email(value: string, policy: NormalizationPolicy): IdentifierOutcome {
  if (policy === 'segment') {
    const normalized = segmentEmailNormalization(value)
    if (isSha256Hex(normalized)) return { status: 'prehashed', hash: normalized }
    return { status: 'hashed', hash: sha256Hex(normalized) }
  }
  const trimmed = value.trim()
  const normalized = segmentEmailNormalization(trimmed)
  if (isSha256Hex(normalized)) return prehashed(trimmed, policy)
  if (!EMAIL_SHAPE.test(normalized)) return rejected('invalid', 'not a valid email address')
  const bad = malformed(trimmed)
  if (bad) return bad
  const hash = sha256Hex(normalized)
  return trimmed === value ? { status: 'hashed', hash } : { status: 'repaired', hash, reason: 'trimmed whitespace' }
}

const E164 = /^\+[1-9]\d{6,14}$/

function phone(value: string, policy: NormalizationPolicy, region: string | undefined): IdentifierOutcome {
  if (policy === 'segment') {
    return isSha256Hex(value) ? { status: 'prehashed', hash: value } : { status: 'hashed', hash: sha256Hex(value) }
  }
  const trimmed = value.trim()
  if (isSha256Hex(trimmed)) return prehashed(trimmed, policy)
  // Already E.164: hashed as given (what the reference does), without the cost of a full parse.
  if (E164.test(trimmed)) {
    const hash = sha256Hex(trimmed)
    return trimmed === value ? { status: 'hashed', hash } : { status: 'repaired', hash, reason: 'trimmed whitespace' }
  }
  // libphonenumber reads the digits out of any text: what no number contains is refused first.
  const bad = malformed(trimmed)
  if (bad) return bad
  // "00" is the international prefix in most of the world; libphonenumber only knows it for regions
  // that use it, so it is turned into "+" first.
  const international = trimmed.replace(/^\s*00(?=[1-9])/, '+')
  let parsed
  try {
    parsed = parsePhoneNumberFromString(international, (region || undefined) as CountryCode | undefined)
  } catch {
    parsed = undefined
  }
  if (!parsed || !parsed.isPossible()) {
    if (!international.startsWith('+') && !region)
      return rejected('national_without_region', 'not a possible phone number (no country code, and no defaultPhoneRegion is set)')
    return rejected('invalid', 'not a possible phone number')
  }
  return { status: 'repaired', hash: sha256Hex(parsed.number), reason: 'formatted to E.164' }
}

function advertisingId(value: string, policy: NormalizationPolicy): IdentifierOutcome {
  if (policy === 'segment') {
    return isSha256Hex(value) ? { status: 'prehashed', hash: value } : { status: 'hashed', hash: sha256Hex(value) }
  }
  const trimmed = value.trim()
  if (isSha256Hex(trimmed)) return prehashed(trimmed, policy)
  const bad = malformed(trimmed)
  if (bad) return bad
  const hash = sha256Hex(trimmed)
  return trimmed === value ? { status: 'hashed', hash } : { status: 'repaired', hash, reason: 'trimmed whitespace' }
}

/**
 * Normalises and hashes one identifier. `enabled` is the action's `send_*` flag; a value that is
 * not a string (payload validation coerces scalars to strings) counts as empty.
 */
export function processIdentifier(kind: IdentifierKind, value: unknown, enabled: boolean, options: IdentifierOptions): IdentifierOutcome {
  if (!enabled) return DISABLED
  if (typeof value !== 'string' || value === '') return EMPTY
  if (value.trim() === '') return WHITESPACE_ONLY
  switch (kind) {
    case 'email':
      return email(value, options.policy)
    case 'phone':
      return phone(value, options.policy, options.defaultPhoneRegion)
    case 'advertising_id':
      return advertisingId(value, options.policy)
  }
}
