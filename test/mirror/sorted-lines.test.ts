/** Mirror sync's external sort: any number of lines, sorted with one run in memory, repeats once. */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ExternalSort, LineWriter, readLines } from '../../src/mirror/sorted-lines.js'

const hex = (i: number) => createHash('sha256').update(String(i)).digest('hex')

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const x of it) out.push(x)
  return out
}

test('external sort: lines over several runs on disk come out in order, each once, as sorting in memory would', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-sort-'))
  try {
    const sort = new ExternalSort(dir, 1000)
    const lines: string[] = []
    // 10,500 lines of which 3,500 repeat an earlier one (members listed twice).
    for (let i = 0; i < 10_500; i++) lines.push(`${hex(i % 7000)},${hex((i % 7000) + 1)},,`)
    for (const l of lines) await sort.add(l)
    assert.equal(readdirSync(dir).length, 10, 'ten full runs spilled to disk, the rest in memory')
    const sorted = await collect(sort.sorted())
    assert.deepEqual(sorted, [...new Set(lines)].sort())
    assert.equal(sorted.length, 7000)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('external sort: a list smaller than a run never touches the disk; an empty list is empty', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-sort-'))
  try {
    const small = new ExternalSort(dir, 1000)
    for (const l of ['c', 'a', 'b', 'a']) await small.add(l)
    assert.deepEqual(await collect(small.sorted()), ['a', 'b', 'c'])
    assert.deepEqual(await collect(new ExternalSort(dir).sorted()), [])
    assert.equal(readdirSync(dir).length, 0)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('line files: written lines read back whole across 1 MiB chunks, a last line without a newline too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-lines-'))
  try {
    const w = new LineWriter(join(dir, 'x.txt'))
    const lines = Array.from({ length: 30_000 }, (_, i) => `${hex(i)},${'é'.repeat(i % 5)}`)
    for (const l of lines) await w.write(l)
    await w.close()
    assert.equal(w.count, 30_000)
    assert.deepEqual(await collect(readLines(w.file)), lines)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
