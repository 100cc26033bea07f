import assert from 'node:assert/strict'
import { test } from 'node:test'
import { redactEvent } from '../../src/pipeline/redact.js'

test('failure samples keep the shape but no raw email, phone or mobile id', () => {
  const hash = 'a'.repeat(64)
  const out = redactEvent({
    type: 'track',
    event: 'Audience Entered',
    properties: { audience_key: 'vip', vip: true, email: 'Jane.Doe@Example.com' },
    context: { traits: { email: 'jane@example.com', phone: '+14155550123', name: 'Jane' }, device: { advertisingId: '6D92078A-8246-4BA4-AE5B-76104861E7DC' } },
    traits: { email: hash }
  }) as any
  assert.equal(out.properties.email, 'J***@Example.com')
  assert.equal(out.context.traits.email, 'j***@example.com')
  assert.equal(out.context.traits.phone, '***23')
  assert.equal(out.context.traits.name, 'Jane')
  assert.equal(out.context.device.advertisingId, '***E7DC')
  assert.equal(out.traits.email, hash, 'a hash is not PII')
  assert.equal(out.properties.vip, true)
  assert.doesNotMatch(JSON.stringify(out), /jane@example|4155550123|76104861E7DC/i)
})
