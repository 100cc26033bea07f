/** TikTok failure classes (SPEC §3.3) and the retry backoff. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { classifyCode, classifyHttpStatus } from '../../src/tiktok/errors.js'
import { backoffMs } from '../../src/pipeline/rate-limiter.js'

test('TikTok codes: throttling, server errors, auth, everything else permanent', () => {
  for (const c of [40100, 40133, 40016]) assert.equal(classifyCode(c), 'throttle', String(c))
  for (const c of [50000, 50002, 51063]) assert.equal(classifyCode(c), 'transient', String(c))
  for (const c of [40105, 40104, 40102]) assert.equal(classifyCode(c), 'auth', String(c))
  for (const c of [40001, 40002, 40007, 40000]) assert.equal(classifyCode(c), 'permanent', String(c))
})

test('HTTP statuses without a TikTok envelope', () => {
  assert.equal(classifyHttpStatus(504), 'transient')
  assert.equal(classifyHttpStatus(502), 'transient')
  assert.equal(classifyHttpStatus(429), 'throttle')
  assert.equal(classifyHttpStatus(401), 'auth')
  assert.equal(classifyHttpStatus(404), 'permanent')
})

test('backoff doubles per attempt, with jitter in [d/2, d], capped', () => {
  assert.equal(
    backoffMs(1, 1000, 60_000, () => 0),
    500
  )
  assert.equal(
    backoffMs(1, 1000, 60_000, () => 1),
    1000
  )
  assert.equal(
    backoffMs(3, 1000, 60_000, () => 1),
    4000
  )
  assert.equal(
    backoffMs(30, 1000, 60_000, () => 1),
    60_000
  )
})
