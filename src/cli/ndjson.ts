import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { checkEvent, type SegmentEvent } from '../pipeline/event.js'

/** Reads an NDJSON file (or stdin for `-`) line by line, with 1-based line numbers; blank lines are skipped. */
export async function* readNdjson(file: string): AsyncGenerator<{ line: number; value?: unknown; error?: string }> {
  const input = file === '-' ? process.stdin : createReadStream(file)
  const rl = createInterface({ input, crlfDelay: Infinity })
  let line = 0
  for await (const text of rl) {
    line++
    if (text.trim() === '') continue
    try {
      yield { line, value: JSON.parse(text) as unknown }
    } catch (err) {
      yield { line, error: `not valid JSON (${(err as Error).message})` }
    }
  }
}

/**
 * The events of an NDJSON file, each checked as ingestion checks it; an unusable line comes as a
 * problem naming `file:line`.
 */
export async function* readEvents(file: string): AsyncGenerator<{ event: SegmentEvent; problem?: undefined } | { problem: string; event?: undefined }> {
  const name = file === '-' ? 'stdin' : file
  for await (const item of readNdjson(file)) {
    const check = item.error ? { ok: false as const, error: item.error } : checkEvent(item.value)
    if (check.ok) yield { event: check.event }
    else yield { problem: `${name}:${item.line}: ${check.error}` }
  }
}
