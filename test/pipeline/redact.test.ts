import assert from 'node:assert/strict'
import { test } from 'node:test'
import { redactEvent, redactText } from '../../src/pipeline/redact.js'

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

test('email- and phone-shaped strings are masked under any key, at any depth, inside text and in keys', () => {
  const event = {
    type: 'track',
    userId: 'a.b@example.com',
    anonymousId: '+14155550123',
    messageId: 'msg-7f3a',
    timestamp: '2024-05-01T10:00:00.000+02:00',
    properties: {
      note: 'write to jane.doe+vip@mail.example.org or call +44 20 7183 8750 / (415) 555-0124 today',
      contact: ['x', { owner: 'Owner@Example.com', fax: '415.555.0125' }],
      plain: '4155550126',
      phoneAsNumber: 14155550127,
      'bob@example.com': true,
      version: '10.4.0',
      day: '2024-05-01',
      count: 4155550128
    },
    context: { ip: '203.0.113.9', library: { name: 'analytics-node', version: '3.1.0' } }
  }
  const out = redactEvent(event) as any
  const text = JSON.stringify(out)
  for (const raw of [
    'a.b@example.com',
    'jane.doe',
    'vip@mail',
    'Owner@',
    'bob@',
    '4155550123',
    '7183 8750',
    '555-0124',
    '555.0125',
    '4155550126',
    '14155550127'
  ]) {
    assert.ok(!text.includes(raw), `${raw} in ${text}`)
  }
  assert.equal(out.userId, 'a***@example.com')
  assert.equal(out.anonymousId, '***23')
  assert.equal(out.properties.note, 'write to j***@mail.example.org or call ***50 / ***24 today')
  assert.equal(out.properties.contact[1].owner, 'O***@Example.com')
  assert.equal(out.properties.contact[1].fax, '***25')
  assert.equal(out.properties.plain, '***26')
  assert.equal(out.properties.phoneAsNumber, '***27')
  assert.equal(out.properties['b***@example.com'], true)
  // What does not look like an identifier stays readable.
  assert.equal(out.messageId, 'msg-7f3a')
  assert.equal(out.timestamp, '2024-05-01T10:00:00.000+02:00')
  assert.equal(out.properties.version, '10.4.0')
  assert.equal(out.properties.day, '2024-05-01')
  assert.equal(out.properties.count, 4155550128, 'a number under a key that names no identifier is data')
  assert.equal(out.context.library.version, '3.1.0')
  assert.equal(out.properties.contact[0], 'x')
})

test('redactText: texts without identifiers are returned as they are', () => {
  for (const t of ['', 'Audience Entered', 'order 12', '6D92078A-8246-4BA4-AE5B-76104861E7DC', '12345678-1234-1234-1234-123456789012', 'ünïcødé'])
    assert.equal(redactText(t), t)
})
