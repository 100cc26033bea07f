/**
 * Acceptance test of SPEC §2.2: for the same input, the TikTok request bodies this product builds
 * under the `segment` policy are byte-identical (JSON.stringify) to what Segment's published
 * destination sent (recorded by test/golden/generate-reference.cjs). Deliberate differences are
 * compared against their own `ours`, and must still differ from the reference.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { referenceOutcome, runGoldenVector, type GoldenOutcome, type GoldenVector } from './goldenRunner.js'

const vectors: GoldenVector[] = JSON.parse(readFileSync(new URL('../golden/vectors.json', import.meta.url), 'utf8'))

/** syncAudience sends its add and delete requests concurrently: their order carries no meaning. */
function comparable(outcome: GoldenOutcome, action: string) {
  const bodies = outcome.requests.map((r) => `${r.path} ${JSON.stringify(r.body)}`)
  return { requests: action === 'syncAudience' ? [...bodies].sort() : bodies, errors: outcome.errors }
}

test('the golden set is large and covers every action', () => {
  assert.ok(vectors.length >= 40, `only ${vectors.length} vectors`)
  const actions = new Set(vectors.map((v) => v.action))
  for (const a of ['createAudience', 'addUser', 'removeUser', 'addToAudience', 'removeFromAudience', 'syncAudience']) {
    assert.ok(actions.has(a), `no vector for ${a}`)
  }
  for (const v of vectors) {
    assert.match(v.source, /^Segment @segment\/action-destinations 3\.497\.0, executed by test\/golden\/generate-reference\.cjs on \d{4}-\d{2}-\d{2}$/)
    assert.equal(v.policy, 'segment')
  }
})

for (const vector of vectors) {
  test(`golden: ${vector.name}`, () => {
    const ours = comparable(runGoldenVector(vector), vector.action)
    const reference = comparable(referenceOutcome(vector), vector.action)
    if (vector.deliberateDifference) {
      assert.ok(vector.ours, 'a deliberate difference needs `ours`')
      assert.deepEqual(ours, comparable(vector.ours, vector.action))
      assert.notDeepEqual(ours, reference, 'marked as a deliberate difference but identical to the reference')
    } else {
      assert.deepEqual(ours, reference)
    }
  })
}
