import { test } from 'node:test'
import assert from 'node:assert/strict'
import { jsonItems, jsonString } from '../../src/util/json.js'

const STRINGS = ['', 'abc', 'a'.repeat(64), 'AbC09_.:+/=-', 'quote"in', 'back\\slash', 'new\nline', 'tab\t', '\u0000', '\u001f', 'é', '😀', '\ud800', 'a\udc00b', '\u2028', '<script>']

test('jsonString writes what JSON.stringify writes', () => {
  for (const s of STRINGS) assert.equal(jsonString(s), JSON.stringify(s), JSON.stringify(s))
})

test('jsonItems writes JSON.stringify(array) without its brackets', () => {
  const lists: (string | null)[][] = [[], [null], ['a', null, 'b'], STRINGS, [null, null], ['x"y', null]]
  for (const l of lists) assert.equal(jsonItems(l), JSON.stringify(l).slice(1, -1))
  assert.equal(jsonItems([undefined]), JSON.stringify([undefined]).slice(1, -1))
})
