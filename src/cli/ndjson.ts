import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'

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
