/** The batched NDJSON reader: line splitting across reads, numbering, and readline's behaviour kept. */
import assert from 'node:assert/strict'
import { createReadStream, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { readEventBatches, readEvents, readNdjson, readNdjsonBatches, type NdjsonLine } from '../../src/cli/ndjson.js'
import { at } from '../../src/util/array.js'

const dir = mkdtempSync(join(tmpdir(), 'tta-ndjson-'))
let files = 0
const write = (content: string | Buffer): string => {
  const file = join(dir, `f${files++}.ndjson`)
  writeFileSync(file, content)
  return file
}

async function all(file: string, chunkSize?: number): Promise<{ lines: NdjsonLine[]; batches: number }> {
  const lines: NdjsonLine[] = []
  let batches = 0
  for await (const batch of readNdjsonBatches(file, { chunkSize })) {
    assert.ok(batch.length > 0, 'no empty batches')
    batches++
    lines.push(...batch)
  }
  return { lines, batches }
}

const jsonError = (text: string): string => {
  try {
    JSON.parse(text)
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`
  }
  throw new Error(`${text} parses`)
}

/** What the reader did before batching (node:readline), kept here as the reference. */
async function viaReadline(file: string): Promise<NdjsonLine[]> {
  const out: NdjsonLine[] = []
  let line = 0
  for await (const text of createInterface({ input: createReadStream(file, { highWaterMark: 7 }), crlfDelay: Infinity })) {
    line++
    if (text.trim() === '') continue
    try {
      out.push({ line, value: JSON.parse(text) as unknown })
    } catch (err) {
      out.push({ line, error: `not valid JSON (${(err as Error).message})` })
    }
  }
  return out
}

test('CRLF line endings: values without the \\r, one line per \\r\\n, also when \\r\\n straddles two reads', async () => {
  const content = '{"a":1}\r\n{"b":"x"}\r\n\r\n{"c":3}\r\n'
  const expected = [
    { line: 1, value: { a: 1 } },
    { line: 2, value: { b: 'x' } },
    { line: 4, value: { c: 3 } }
  ]
  const file = write(content)
  assert.deepEqual((await all(file)).lines, expected)
  // Every split point, so that some read ends right between '\r' and '\n'.
  for (let size = 1; size <= content.length; size++) assert.deepEqual((await all(file, size)).lines, expected, `chunk size ${size}`)
})

test('a last line without a newline is read', async () => {
  const file = write('{"a":1}\n{"b":2}')
  for (const size of [undefined, 1, 3, 9]) {
    assert.deepEqual((await all(file, size)).lines, [
      { line: 1, value: { a: 1 } },
      { line: 2, value: { b: 2 } }
    ])
  }
  assert.deepEqual((await all(write('{"only":true}'))).lines, [{ line: 1, value: { only: true } }])
  assert.deepEqual((await all(write(''))).lines, [])
})

test('blank and whitespace-only lines are skipped but counted', async () => {
  const file = write('\n{"a":1}\n\n   \n\t \r\n{"b":2}\n\n')
  assert.deepEqual((await all(file)).lines, [
    { line: 2, value: { a: 1 } },
    { line: 6, value: { b: 2 } }
  ])
})

test('invalid JSON is reported with its line number and the parser message', async () => {
  const bad1 = '{"a":'
  const bad2 = 'not json'
  const file = write(`{"ok":1}\n${bad1}\n\n${bad2}\n[1,2]\n`)
  assert.deepEqual((await all(file, 4)).lines, [
    { line: 1, value: { ok: 1 } },
    { line: 2, error: jsonError(bad1) },
    { line: 4, error: jsonError(bad2) },
    { line: 5, value: [1, 2] }
  ])
})

test('a file of many reads: lines crossing read boundaries, one batch per read that ends a line', async () => {
  const values = Array.from({ length: 500 }, (_, i) => ({ i, pad: 'x'.repeat(i % 37) }))
  const file = write(values.map((v) => JSON.stringify(v)).join('\n') + '\n')
  const expected = values.map((value, i) => ({ line: i + 1, value }))
  for (const size of [5, 64, 1000]) {
    const { lines, batches } = await all(file, size)
    assert.deepEqual(lines, expected, `chunk size ${size}`)
    assert.ok(batches > 1, `chunk size ${size}: ${batches} batches`)
  }
  // The default read size with a file of a few MiB.
  const big = Array.from({ length: 30_000 }, (_, i) => ({ i, text: `line ${i} `.repeat(10) }))
  const bigFile = write(big.map((v) => JSON.stringify(v)).join('\n') + '\n')
  const { lines, batches } = await all(bigFile)
  assert.equal(lines.length, big.length)
  assert.ok(batches >= 3, `${batches} batches`)
  lines.forEach((l, i) => assert.deepEqual(l, { line: i + 1, value: big[i] }))
})

test('multi-byte characters split across reads are decoded whole', async () => {
  const values = [{ name: 'José Müller' }, { emoji: '😀👍🏽' }, { mixed: 'é😀é' }]
  const content = values.map((v) => JSON.stringify(v)).join('\n') + '\n'
  const file = write(content)
  const expected = values.map((value, i) => ({ line: i + 1, value }))
  for (let size = 1; size <= Buffer.byteLength(content); size++) assert.deepEqual((await all(file, size)).lines, expected, `chunk size ${size}`)
})

test('same lines, numbers, values and errors as the readline reader, for any read size', async () => {
  // Lone '\r's, '\r\n's split across reads, blank lines, multi-byte characters, broken JSON.
  const pieces = ['{"a":1}', '"é"', '"😀"', '[1]', '{', '}', ' ', '\t', '\n', '\n', '\r', '\r\n', 'x', '2']
  let seed = 42
  const random = (n: number) => ((seed = (seed * 48271) % 2147483647), seed % n)
  for (let round = 0; round < 60; round++) {
    const content = Array.from({ length: 1 + random(40) }, () => pieces[random(pieces.length)]).join('')
    const file = write(content)
    const expected = await viaReadline(file)
    for (const size of [1, 2, 3, 5, 8, 13, 1 << 20]) assert.deepEqual((await all(file, size)).lines, expected, `${JSON.stringify(content)}, chunk size ${size}`)
  }
})

test('an unfinished character at the very end is dropped, as readline did', async () => {
  const file = write(Buffer.concat([Buffer.from('{"a":1}'), Buffer.from([0xc3])]))
  assert.deepEqual(await viaReadline(file), [{ line: 1, value: { a: 1 } }])
  assert.deepEqual((await all(file, 2)).lines, [{ line: 1, value: { a: 1 } }])
})

test('events: checked per line, problems name file:line; the per-item wrappers give the same', async () => {
  const event = { type: 'track', event: 'Audience Entered', userId: 'u1', messageId: 'm1' }
  const content = [JSON.stringify(event), '', '{"type":', '[1]', JSON.stringify({ ...event, event: '' }), JSON.stringify({ ...event, messageId: 'm2' })].join(
    '\r\n'
  )
  const file = write(content)
  const items = []
  for await (const batch of readEventBatches(file, { chunkSize: 10 })) items.push(...batch)
  assert.equal(items.length, 5)
  assert.equal(at(items, 0).event?.messageId, 'm1')
  assert.equal(at(items, 1).problem, `${file}:3: ${jsonError('{"type":')}`)
  assert.equal(at(items, 2).problem, `${file}:4: an event must be a JSON object, got an array`)
  assert.equal(at(items, 3).problem, `${file}:5: a track event needs a non-empty "event" name`)
  assert.equal(at(items, 4).event?.messageId, 'm2')

  const single = []
  for await (const item of readEvents(file, { chunkSize: 3 })) single.push(item)
  assert.deepEqual(single, items)
  const lines = []
  for await (const item of readNdjson(file, { chunkSize: 3 })) lines.push(item)
  assert.deepEqual(lines, (await all(file)).lines)
})

test("events nested deeper than ingestion's limit are problems naming the limit, not a stack overflow later", async () => {
  const event = (deep: string) => `{"type":"track","event":"x","userId":"u","properties":{"d":${deep}}}`
  const file = write(
    [event('['.repeat(20_000) + ']'.repeat(20_000)), event('{"a":'.repeat(62) + '1' + '}'.repeat(62)), event('{"a":'.repeat(63) + '1' + '}'.repeat(63))].join(
      '\n'
    )
  )
  const items = []
  for await (const item of readEvents(file)) items.push(item)
  assert.match(at(items, 0).problem ?? '', /:1: the event is nested more than 64 levels deep/)
  assert.equal(at(items, 1).event?.type, 'track', '64 levels: accepted')
  assert.match(at(items, 2).problem ?? '', /:3: the event is nested more than 64 levels deep/)
})

test('a missing file rejects', async () => {
  await assert.rejects(all(join(dir, 'missing.ndjson')), /ENOENT/)
})
