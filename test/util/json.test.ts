import { test } from 'node:test'
import assert from 'node:assert/strict'
import { at } from '../../src/util/array.js'
import { jsonItems, jsonString } from '../../src/util/json.js'

const STRINGS = [
  '',
  'abc',
  'a'.repeat(64),
  'AbC09_.:+/=-',
  'quote"in',
  'back\\slash',
  'new\nline',
  'tab\t',
  '\u0000',
  '\u001f',
  'é',
  '😀',
  '\ud800',
  'a\udc00b',
  '\u2028',
  '<script>'
]

test('jsonString writes what JSON.stringify writes', () => {
  for (const s of STRINGS) assert.equal(jsonString(s), JSON.stringify(s), JSON.stringify(s))
})

test('jsonItems writes JSON.stringify(array) without its brackets', () => {
  const lists: (string | null)[][] = [[], [null], ['a', null, 'b'], STRINGS, [null, null], ['x"y', null]]
  for (const l of lists) assert.equal(jsonItems(l), JSON.stringify(l).slice(1, -1))
  assert.equal(jsonItems([undefined]), JSON.stringify([undefined]).slice(1, -1))
})

test('jsonBytesBound is never below the serialised size, stops early past its limit, and reports nesting past its depth', async () => {
  const { jsonBytesBound, jsonDeeperThan, TOO_DEEP } = await import('../../src/util/json.js')
  const exact = (v: unknown) => Buffer.byteLength(JSON.stringify(v))
  const values: unknown[] = [
    null,
    true,
    false,
    0,
    -0,
    1e21,
    -1.7976931348623157e308,
    5e-324,
    -2.2250738585072014e-308,
    0.0000012345678901234567,
    -123456789012345680000,
    '',
    '"',
    '\\',
    '\n\u0000\u001f',
    '\ud800',
    '😀',
    '\u2028é',
    'plain',
    [],
    {},
    [null, [[]], {}],
    { '': '', 'k"\n': ['\u0001', 1e-7] },
    JSON.parse('{"a":{"b":[1,2,{"c":"\\u00e9\\u0000"}]},"d":1e308}')
  ]
  // Random JSON values over the cases that escape or expand.
  let seed = 7
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
  const pieces = ['a', '"', '\\', '\n', '\u0007', 'é', '😀', '\ud800', '\u2028', ' ']
  const gen = (depth: number): unknown => {
    switch (rnd(depth > 3 ? 4 : 6)) {
      case 0: {
        let s = ''
        for (let k = rnd(20); k > 0; k--) s += at(pieces, rnd(pieces.length))
        return s
      }
      case 1:
        return [1, -1e21, 123.456e-10, 0.1, 2 ** 53, -1.5e300][rnd(6)]
      case 2:
        return [true, false, null][rnd(3)]
      case 3:
        return ''
      case 4:
        return Array.from({ length: rnd(4) }, () => gen(depth + 1))
      default:
        return Object.fromEntries(Array.from({ length: rnd(4) }, () => [at(pieces, rnd(pieces.length)) + rnd(9), gen(depth + 1)]))
    }
  }
  for (let i = 0; i < 3000; i++) values.push(gen(0))
  for (const v of values) assert.ok(jsonBytesBound(v, Infinity, 1000) >= exact(v), JSON.stringify(v))
  // Past the limit it stops: a cycle ends; past the depth it reports TOO_DEEP, without recursing deeper.
  const cyclic: Record<string, unknown> = { a: 'x' }
  cyclic.self = cyclic
  assert.ok(jsonBytesBound(cyclic, 1000, 1e6) > 1000)
  assert.equal(jsonBytesBound(cyclic, Infinity, 64), TOO_DEEP)
  const nest = (levels: number, wrap: (v: unknown) => unknown) => {
    let v: unknown = 1
    for (let i = 0; i < levels; i++) v = wrap(v)
    return v
  }
  for (const wrap of [(v: unknown) => [v], (v: unknown) => ({ k: v })]) {
    assert.equal(jsonBytesBound(nest(100_000, wrap), Infinity, 64), TOO_DEEP, 'no stack overflow at 100,000 levels')
    assert.equal(jsonBytesBound(nest(65, wrap), Infinity, 64), TOO_DEEP)
    assert.ok(jsonBytesBound(nest(64, wrap), Infinity, 64) >= exact(nest(64, wrap)))
    assert.equal(jsonBytesBound(['x'.repeat(100), nest(65, wrap)], 50, 64) > 50, true, 'past the limit first: the size decides')
    assert.equal(jsonDeeperThan(nest(100_000, wrap), 64), true)
    assert.equal(jsonDeeperThan(nest(65, wrap), 64), true)
    assert.equal(jsonDeeperThan(nest(64, wrap), 64), false)
    assert.equal(jsonDeeperThan([[1], [[nest(63, wrap)]]], 64), true)
  }
  assert.equal(jsonBytesBound({ u: undefined }, 100, 64), Infinity, 'not from JSON: left to serialising')
})
