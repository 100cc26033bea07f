/**
 * Lines of text sorted on disk: the building blocks of mirror sync's sorted merge. A list larger
 * than one run is sorted a run at a time into files, then merged; memory holds one run at most.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { at } from '../util/array.js'

/** The lines of a file, read in 1 MiB chunks. */
export async function* readLines(file: string): AsyncGenerator<string> {
  let rest = ''
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 }) as AsyncIterable<string>) {
    const text = rest + chunk
    let start = 0
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      yield text.slice(start, nl)
      start = nl + 1
    }
    rest = text.slice(start)
  }
  if (rest) yield rest
}

/** Writes lines to a file, buffered, waiting when the disk is behind. */
export class LineWriter {
  private readonly out: WriteStream
  private buffer = ''
  count = 0

  constructor(readonly file: string) {
    this.out = createWriteStream(file)
  }

  async write(line: string): Promise<void> {
    this.buffer += line + '\n'
    this.count++
    if (this.buffer.length >= 1 << 20) await this.flush()
  }

  async close(): Promise<void> {
    this.out.end(this.buffer)
    this.buffer = ''
    await finished(this.out)
  }

  private async flush(): Promise<void> {
    const ok = this.out.write(this.buffer)
    this.buffer = ''
    if (!ok) await new Promise<void>((resolve) => this.out.once('drain', () => resolve()))
  }
}

/**
 * Sorts lines of any number (byte order of their UTF-16 code units, as `<` compares) with at most
 * `runSize` of them in memory: full runs are sorted and written to files in `dir`, then merged.
 * Identical lines come out once.
 */
export class ExternalSort {
  private run: string[] = []
  private readonly files: string[] = []

  constructor(
    private readonly dir: string,
    private readonly runSize = 100_000
  ) {}

  async add(line: string): Promise<void> {
    this.run.push(line)
    if (this.run.length >= this.runSize) await this.spill()
  }

  /** The lines in order, without repeats. Call once, after the last add. */
  async *sorted(): AsyncGenerator<string> {
    if (this.files.length === 0) {
      const lines = this.run.sort()
      this.run = []
      yield* unique(lines)
      return
    }
    if (this.run.length > 0) await this.spill()
    yield* unique(merge(this.files.map((f) => readLines(f)[Symbol.asyncIterator]())))
  }

  private async spill(): Promise<void> {
    const w = new LineWriter(join(this.dir, `run-${this.files.length}.txt`))
    const lines = this.run.sort()
    this.run = []
    for (const line of lines) await w.write(line)
    await w.close()
    this.files.push(w.file)
  }
}

async function* unique(lines: Iterable<string> | AsyncIterable<string>): AsyncGenerator<string> {
  let last: string | undefined
  for await (const line of lines) {
    if (line !== last) yield line
    last = line
  }
}

/** Merges sorted line streams into one sorted stream (a linear pick of the least head: few streams). */
async function* merge(streams: AsyncIterator<string>[]): AsyncGenerator<string> {
  const heads: (string | undefined)[] = []
  for (const s of streams) heads.push(await next(s))
  for (;;) {
    let least = -1
    let leastLine: string | undefined
    heads.forEach((h, i) => {
      if (h !== undefined && (leastLine === undefined || h < leastLine)) [least, leastLine] = [i, h]
    })
    if (leastLine === undefined) return
    yield leastLine
    heads[least] = await next(at(streams, least))
  }
}

async function next(s: AsyncIterator<string>): Promise<string | undefined> {
  const r = await s.next()
  return r.done ? undefined : r.value
}
