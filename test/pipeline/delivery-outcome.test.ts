/** What each exchange with TikTok comes to (classifyExchange): delivered, retry, paused or failed. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { classifyExchange, type Exchange, type RetryPolicy } from '../../src/pipeline/delivery-outcome.js'
import { TikTokError } from '../../src/tiktok/errors.js'

const policy: RetryPolicy = { retryBaseMs: 1000, retryMaxMs: 60_000, retryForMs: 3_600_000, failOnAuth: false }
const NOW = 10_000_000
const fresh = { attempts: 0, firstFailureAt: null }
const exchange = (failure: TikTokError | undefined, over: Partial<Exchange> = {}): Exchange => ({
  failure,
  advertisers: ['7001'],
  destinationAdvertisers: ['7001'],
  state: fresh,
  now: NOW,
  ...over
})
const throttled = () => new TikTokError('Too many requests', 'throttle', { code: 40100 })
const timedOut = () => new TikTokError('request timed out', 'transient')

test('success: delivered, and the retry state is cleared', () => {
  assert.deepEqual(classifyExchange(exchange(undefined, { state: { attempts: 3, firstFailureAt: NOW - 5000 } }), policy), {
    kind: 'delivered',
    next: { attempts: 0, firstFailureAt: null }
  })
})

test('throttle or transient within the retry budget: retry with backoff, counting the attempt', () => {
  const first = classifyExchange(exchange(throttled()), policy)
  assert.equal(first.kind, 'retry')
  if (first.kind !== 'retry') return
  assert.deepEqual(
    { ...first, retryAt: 0 },
    { kind: 'retry', retryAt: 0, attempts: 1, firstFailureAt: NOW, reason: 'TikTok 40100: Too many requests', errorCode: '40100' }
  )
  assert.ok(first.retryAt >= NOW + 500 && first.retryAt <= NOW + 1000, `first backoff within 0.5–1 s (${first.retryAt - NOW} ms)`)

  const third = classifyExchange(exchange(timedOut(), { state: { attempts: 2, firstFailureAt: NOW - 60_000 } }), policy)
  assert.equal(third.kind, 'retry')
  if (third.kind !== 'retry') return
  // Without TikTok's code, the partition keeps the failure's kind as its error code.
  assert.deepEqual([third.attempts, third.firstFailureAt, third.errorCode, third.reason], [3, NOW - 60_000, 'transient', 'request timed out'])
  assert.ok(third.retryAt >= NOW + 2000 && third.retryAt <= NOW + 4000)
})

test('retryable past the retry budget: failed, saying for how long it was retried; the retry state is cleared', () => {
  const outcome = classifyExchange(exchange(throttled(), { state: { attempts: 9, firstFailureAt: NOW - 3_600_001 } }), policy)
  assert.deepEqual(outcome, {
    kind: 'failed',
    reason: 'gave up after retrying for 3600 s: TikTok 40100: Too many requests',
    errorCode: '40100',
    attempts: 10,
    next: { attempts: 0, firstFailureAt: null }
  })
  const noCode = classifyExchange(exchange(timedOut(), { state: { attempts: 1, firstFailureAt: NOW - 3_600_001 } }), policy)
  assert.equal(noCode.kind === 'failed' && noCode.errorCode, 'TRANSIENT', 'a dead letter keeps the kind in capitals')
})

test('auth: paused (queue kept), or failed in a one-shot run', () => {
  const expired = new TikTokError('Access token expired', 'auth', { code: 40105 })
  const paused = classifyExchange(exchange(expired), policy)
  assert.equal(paused.kind, 'paused')
  assert.match(
    paused.kind === 'paused' ? paused.reason : '',
    /TikTok rejected the destination's access token \(TikTok 40105: Access token expired\): Reauthorize/
  )
  const failed = classifyExchange(exchange(expired, { state: { attempts: 2, firstFailureAt: NOW - 1000 } }), { ...policy, failOnAuth: true })
  assert.deepEqual(failed.kind === 'failed' && [failed.errorCode, failed.attempts, failed.next], ['40105', 3, { attempts: 2, firstFailureAt: NOW - 1000 }])
})

test('permanent: failed with the reason (advertisers named), the attempt counted, the retry state carried on', () => {
  const denied = new TikTokError('No permission to operate advertiser', 'permanent', { code: 40001 })
  const state = { attempts: 1, firstFailureAt: NOW - 2000 }
  const outcome = classifyExchange(exchange(denied, { advertisers: ['7002'], destinationAdvertisers: ['7001'], state }), policy)
  assert.equal(outcome.kind, 'failed')
  if (outcome.kind !== 'failed') return
  assert.match(outcome.reason, /^Advertiser 7002 is not one this destination's TikTok token may use \(these are: 7001\)/)
  assert.deepEqual([outcome.errorCode, outcome.attempts, outcome.next], ['40001', 2, state])
  const invalid = classifyExchange(exchange(new TikTokError('bad request', 'permanent', { httpStatus: 400 })), policy)
  assert.deepEqual(invalid.kind === 'failed' && [invalid.reason, invalid.errorCode, invalid.attempts], ['bad request', 'PERMANENT', 1])
})
