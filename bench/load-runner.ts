/**
 * Child process of the ingestion benchmark: autocannon posting `/v1/batch` bodies of N events, each
 * request with fresh messageIds (a re-sent messageId would be a cheap duplicate). Runs in its own
 * process so the load generator never shares the server's. Prints one JSON line.
 *
 *   node --import tsx bench/load-runner.ts <baseUrl> <writeKey> <seconds> <connections> <eventsPerBatch> <runId>
 */
import { createRequire } from 'node:module'
import { basicAuth, batchBody } from './lib/scenario.js'

interface AutocannonRequest {
  method: string
  path: string
  headers: Record<string, string>
  body?: string
  setupRequest?: (r: AutocannonRequest) => AutocannonRequest
}
interface AutocannonResult {
  requests: { total: number; average: number }
  latency: { p50: number; p99: number; p97_5: number; average: number; max: number }
  duration: number
  non2xx: number
  errors: number
  timeouts: number
  '2xx': number
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AutocannonResult) => void) => unknown

// autocannon ships no types; require it and describe the little used here.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
const [url, writeKey, seconds, connections, perBatch, runId] = process.argv.slice(2)
if (!url || !writeKey || !runId) throw new Error('usage: load-runner.ts <baseUrl> <writeKey> <seconds> <connections> <eventsPerBatch> <runId>')

// One template, a unique token per request: building 100 events per request would load this process
// (joining the template's pieces around the token costs less than searching it for the token each time).
const TOKEN = 'RUNTOKEN'
const pieces = batchBody(0, Number(perBatch), { run: TOKEN }).split(TOKEN)
let counter = 0

const result = await new Promise<AutocannonResult>((resolve, reject) => {
  autocannon(
    {
      url,
      connections: Number(connections),
      duration: Number(seconds),
      requests: [
        {
          method: 'POST',
          path: '/v1/batch',
          headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
          setupRequest: (r: AutocannonRequest) => ({ ...r, body: pieces.join(`${runId}q${counter++}`) })
        }
      ]
    },
    (err, res) => (err ? reject(err) : resolve(res))
  )
})
process.stdout.write(
  JSON.stringify({
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max
  }) + '\n'
)
