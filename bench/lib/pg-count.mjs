// Preloaded into a `serve` child by the PostgreSQL benchmarks (NODE_OPTIONS=--import …): counts the
// round trips the process makes to PostgreSQL (node-postgres sends one query per round trip) by
// statement, and writes the counts to TTA_PG_COUNT_FILE four times a second (serve is SIGKILLed).
// Plain JavaScript: it runs in front of the compiled CLI, without tsx.
import { writeFileSync } from 'node:fs'
import { isMainThread } from 'node:worker_threads'
import { createRequire } from 'node:module'

const file = process.env.TTA_PG_COUNT_FILE
if (file && isMainThread) {
  const pg = createRequire(`${process.cwd()}/package.json`)('pg')
  const counts = Object.create(null)
  let total = 0
  const original = pg.Client.prototype.query
  pg.Client.prototype.query = function (config, ...rest) {
    const text = typeof config === 'string' ? config : (config?.text ?? '')
    // The statement's kind and table: `INSERT INTO events`, `UPDATE partitions`, `BEGIN`, …
    const key = text.slice(0, 200).replace(/\s+/g, ' ').trim().slice(0, 48)
    counts[key] = (counts[key] ?? 0) + 1
    total++
    return original.call(this, config, ...rest)
  }
  const dump = () => writeFileSync(file, JSON.stringify({ total, counts }))
  setInterval(dump, 250).unref()
}
