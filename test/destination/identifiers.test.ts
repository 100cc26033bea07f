import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isSha256Hex, processIdentifier, sha256Hex } from '../../src/destination/index.js'

const seg = { policy: 'segment' as const }
const rec = { policy: 'recommended' as const, defaultPhoneRegion: 'US' }
const HEX = '584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777'

test('TikTok/Segment hash test vectors (tiktok-business-api §6)', () => {
  assert.equal(sha256Hex('testing@testing.com'), HEX)
  assert.equal(sha256Hex('1234567890'), 'c775e7b757ede630cd0aa1113bd102661ab38829ca52a6422ab782862f268646')
  assert.equal(sha256Hex('4242'), '0315b4020af3eccab7706679580ac87a710d82970733b8719e70af9b57e7b9e6')
  assert.equal(sha256Hex('scroogemcduck@disney.com'), '77bc071241f37b4736df28c0c1cb0a99163d1050696134325b99246b2183d408')
  assert.equal(processIdentifier('email', 'Testing@Testing.com', true, seg).hash, HEX)
  assert.equal(processIdentifier('email', 'test.ing+promo@testing.com', true, seg).hash, HEX)
  assert.equal(processIdentifier('phone', '1234567890', true, seg).hash, sha256Hex('1234567890'))
  assert.equal(processIdentifier('advertising_id', '4242', true, seg).hash, sha256Hex('4242'))
})

test('segment policy: email quirks of the reference (every domain, no trim)', () => {
  assert.equal(processIdentifier('email', 'first.last@do.main', true, seg).hash, sha256Hex('firstlast@do.main'))
  assert.equal(processIdentifier('email', ' Padded@Example.com ', true, seg).hash, sha256Hex(' padded@example.com '))
  assert.equal(processIdentifier('email', 'no-at-sign', true, seg).status, 'hashed')
  assert.equal(processIdentifier('phone', '+1 (555) 555-5555', true, seg).hash, sha256Hex('+1 (555) 555-5555'))
  assert.equal(processIdentifier('advertising_id', 'ABC-def', true, seg).hash, sha256Hex('ABC-def'))
})

test('pre-hashed values are never hashed twice; case per policy', () => {
  const upper = HEX.toUpperCase()
  // segment: email is lowercased by its normaliser, phone and mobile id pass through unchanged.
  assert.deepEqual(processIdentifier('email', upper, true, seg), { status: 'prehashed', hash: HEX })
  assert.deepEqual(processIdentifier('phone', upper, true, seg), { status: 'prehashed', hash: upper })
  assert.deepEqual(processIdentifier('advertising_id', upper, true, seg), { status: 'prehashed', hash: upper })
  for (const kind of ['email', 'phone', 'advertising_id'] as const) {
    const r = processIdentifier(kind, upper, true, rec)
    assert.equal(r.status, 'prehashed')
    assert.equal(r.hash, HEX)
    assert.deepEqual(processIdentifier(kind, HEX, true, rec), { status: 'prehashed', hash: HEX })
  }
  assert.equal(isSha256Hex(`${HEX}0`), false)
  assert.equal(isSha256Hex(`${HEX.slice(1)}g`), false)
})

test('empty, whitespace-only and disabled', () => {
  for (const policy of [seg, rec]) {
    assert.equal(processIdentifier('email', '', true, policy).status, 'empty')
    assert.equal(processIdentifier('email', undefined, true, policy).status, 'empty')
    assert.deepEqual(processIdentifier('phone', '   ', true, policy), { status: 'empty', hash: null, reason: 'whitespace only', drop: 'empty' })
    assert.deepEqual(processIdentifier('email', 'a@b.co', false, policy), { status: 'disabled', hash: null })
  }
})

test('recommended: identical to segment where the reference value is matchable', () => {
  for (const email of ['Jane.Doe+x@Example.com', 'a@b.co', 'ünïcødé.Üser@exämple.de']) {
    assert.deepEqual(processIdentifier('email', email, true, rec), processIdentifier('email', email, true, seg))
  }
  assert.deepEqual(processIdentifier('phone', '+15555550123', true, rec), processIdentifier('phone', '+15555550123', true, seg))
  assert.deepEqual(
    processIdentifier('advertising_id', '6D92078A-8246-4BA4-AE5B-76104861E7DC', true, rec),
    processIdentifier('advertising_id', '6D92078A-8246-4BA4-AE5B-76104861E7DC', true, seg)
  )
})

test('recommended: repairs and rejections are reported', () => {
  assert.deepEqual(processIdentifier('email', ' Jane@Example.com ', true, rec), {
    status: 'repaired',
    hash: sha256Hex('jane@example.com'),
    reason: 'trimmed whitespace'
  })
  assert.equal(processIdentifier('email', 'no-at-sign', true, rec).status, 'rejected')
  assert.equal(processIdentifier('email', 'a@b', true, rec).status, 'rejected')
  const e164 = sha256Hex('+15555555555')
  assert.deepEqual(processIdentifier('phone', '+1 (555) 555-5555', true, rec), { status: 'repaired', hash: e164, reason: 'formatted to E.164' })
  assert.equal(processIdentifier('phone', '(415) 555-0123', true, rec).hash, sha256Hex('+14155550123'))
  assert.equal(processIdentifier('phone', '0044 20 7183 8750', true, rec).hash, sha256Hex('+442071838750'))
  assert.equal(processIdentifier('phone', ' +442071838750 ', true, rec).status, 'repaired')
  const noRegion = processIdentifier('phone', '(415) 555-0123', true, { policy: 'recommended' })
  assert.equal(noRegion.status, 'rejected')
  assert.match(noRegion.reason!, /defaultPhoneRegion/)
  assert.equal(noRegion.drop, 'national_without_region')
  assert.equal(processIdentifier('email', 'a@b', true, rec).drop, 'invalid')
  assert.equal(processIdentifier('phone', '12', true, rec).drop, 'invalid')
  assert.equal(processIdentifier('phone', 'call me', true, rec).status, 'rejected')
  assert.deepEqual(processIdentifier('advertising_id', ' abc ', true, rec), { status: 'repaired', hash: sha256Hex('abc'), reason: 'trimmed whitespace' })
  // Mobile ids keep their case (documented in identifiers.ts).
  assert.equal(processIdentifier('advertising_id', 'ABC', true, rec).hash, sha256Hex('ABC'))
})

test("segment email normaliser: the written-out form gives what Segment's regexes give", async () => {
  const { segmentEmailNormalization, segmentEmailNormalizationRegex } = await import('../../src/destination/index.js')
  const cases = [
    'Person.r.0+promo@Example.COM',
    'a.b.c@d.e',
    'plain@x.io',
    'no-at-sign.here',
    '',
    '@',
    '+@',
    '.@.',
    'a+b+c@d@e.f',
    'a@b+c@d.e',
    'a.b@c.d@e.f',
    'x+y@',
    '+',
    '..',
    'A+.B@C',
    'line\nbreak.a+b@c.d',
    'a.b\r@c.d',
    'a+\u2028b@c',
    'É.ö+x@Ü.DE',
    ' spaced .dot @ x.y ',
    'tail@x.com+tag'
  ]
  for (const c of cases) assert.equal(segmentEmailNormalization(c), segmentEmailNormalizationRegex(c), JSON.stringify(c))
  // Random strings over the characters that matter.
  const parts = ['a', '.', '+', '@', 'B', '\n', 'x.y', '+t', '@@', ' ', '\u2028', 'É', '\r', '\u2029']
  let seed = 42
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
  for (let i = 0; i < 20000; i++) {
    let s = ''
    for (let k = rnd(9); k > 0; k--) s += parts[rnd(parts.length)]
    assert.equal(segmentEmailNormalization(s), segmentEmailNormalizationRegex(s), JSON.stringify(s))
  }
})

test('recommended: invalid UTF-8 (U+FFFD), NUL and other control characters, lone surrogates are rejected with their reason', () => {
  const cases: [kind: 'email' | 'phone' | 'advertising_id', value: string, drop: string][] = [
    ['email', 'jane\ufffd@example.com', 'invalid_utf8'],
    ['email', 'ja\u0000ne@example.com', 'control_character'],
    ['email', 'jane@exa\u0007mple.com', 'control_character'],
    ['email', 'ja\ud800ne@example.com', 'lone_surrogate'],
    ['email', 'jane@example.com\udc00', 'lone_surrogate'],
    ['phone', '(415) 555\ufffd0123', 'invalid_utf8'],
    ['phone', '415 555\u00000123', 'control_character'],
    ['advertising_id', '6D92078A-8246-4BA4-AE5B-76104861E7D\ufffd', 'invalid_utf8'],
    ['advertising_id', 'abc\u0000', 'control_character'],
    ['advertising_id', 'abc\ud83d', 'lone_surrogate']
  ]
  for (const [kind, value, drop] of cases) {
    const r = processIdentifier(kind, value, true, rec)
    assert.equal(r.status, 'rejected', `${kind} ${JSON.stringify(value)}`)
    assert.equal(r.hash, null)
    assert.equal(r.drop, drop, `${kind} ${JSON.stringify(value)}`)
    assert.ok(r.reason, 'a reason a person can read')
  }
  // What is well-formed stays accepted: a surrogate pair (emoji), non-ASCII letters, a padded value.
  assert.equal(processIdentifier('email', 'ja😀ne@example.com', true, rec).status, 'hashed')
  assert.equal(processIdentifier('email', 'ünïcødé@exämple.de', true, rec).status, 'hashed')
  assert.equal(processIdentifier('email', '\tjane@example.com\n', true, rec).status, 'repaired')
  assert.notEqual(processIdentifier('phone', '+1 415\t555 0123', true, rec).drop, 'control_character', 'a tab is whitespace')
})

test('segment policy keeps byte parity: the same values are hashed as given', () => {
  for (const [kind, value] of [
    ['email', 'jane\ufffd@example.com'],
    ['email', 'ja\u0000ne@example.com'],
    ['phone', '415\u0000'],
    ['advertising_id', 'abc\ud800']
  ] as const) {
    assert.equal(processIdentifier(kind, value, true, seg).status, 'hashed', JSON.stringify(value))
  }
})
