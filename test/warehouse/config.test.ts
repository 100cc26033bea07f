/** The config's `kind: postgres` sources: each kind's keys, named problems, schedules as people write them. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigFileError, parseConfig } from '../../src/config/load.js'
import { formatDuration, parseDuration } from '../../src/warehouse/duration.js'

const problems = (text: string): string[] => {
  try {
    parseConfig(text)
    return []
  } catch (err) {
    assert.ok(err instanceof ConfigFileError)
    return err.problems
  }
}

test('a postgres source with every key is accepted beside an events source (kind: events by default)', () => {
  const { config } = parseConfig(`
sources:
  - { name: engage, writeKey: wk_1 }
  - { name: warehouse, kind: postgres, url: "postgres://reader@db/analytics", query: "SELECT email FROM crm.vip", destination: tiktok, audience: vip, every: 15m }
`)
  assert.equal(config.sources?.length, 2)
})

test("each kind refuses the other kind's keys by name; missing keys, URL and schedule are named", () => {
  assert.deepEqual(
    problems(`sources: [{ name: w, kind: postgres, url: "mysql://x", query: q, destination: t, audience: a, every: 15 minutes, writeKey: k }]`),
    [
      'sources[0].writeKey: not for a source of kind postgres (it has no write key)',
      'sources[0].url: must be a postgres:// URL',
      'sources[0].every: must be a duration such as 30s, 15m, 1h or 1d'
    ]
  )
  assert.deepEqual(problems(`sources: [{ name: w, kind: postgres, url: "postgres://x/y", query: q, destination: t, audience: a }]`), [
    'sources[0]: missing required key "every"'
  ])
  assert.deepEqual(problems(`sources: [{ name: e, writeKey: k, query: "SELECT 1" }]`), ['sources[0].query: only for a source of kind: postgres'])
  assert.deepEqual(problems(`sources: [{ name: e, kind: mysql }]`), ['sources[0].kind: must be one of "events", "postgres"'])
  assert.deepEqual(
    problems(`sources: [{ name: e, writeKey: k }, { name: e, kind: postgres, url: "postgres://x/y", query: q, destination: t, audience: a, every: 1h }]`),
    ['sources[1].name: "e" is also the name of sources[0]']
  )
})

test('durations: 30s, 15m, 1h, 1d; anything else is refused', () => {
  assert.deepEqual(['30s', '15m', '1h', '1d'].map(parseDuration), [30_000, 900_000, 3_600_000, 86_400_000])
  assert.deepEqual(['0s', '15', 'm', '1.5h', '15 m', '-1h', '1w'].map(parseDuration), [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined
  ])
  assert.deepEqual([900_000, 3_600_000, 45_000].map(formatDuration), ['15m', '1h', '45s'])
})
