/**
 * Child process of bench/reference.ts: Segment's published TikTok Audiences destination executed by
 * Segment's runtime (`createTestIntegration(dest).testBatchAction`), in batches of 1,000 events,
 * with nock answering TikTok. Everything is required from the reference install given as argv[2],
 * never from the product's node_modules. Prints one JSON line: events, ms, requests, maxRss.
 *
 *   node --import tsx bench/reference-runner.ts <referenceDir> <events.ndjson> [batchSize]
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

type Payload = Record<string, unknown>
interface TestIntegration {
  testBatchAction(action: string, opts: { events: Payload[]; useDefaultMappings: boolean; settings: Payload; mapping?: Payload }): Promise<unknown>
  responses: unknown[]
  results: unknown[]
}
interface NockScope {
  persist(): NockScope
  post(path: RegExp): { reply(status: number, body: (uri: string) => Payload): NockScope }
}
type Nock = ((host: string) => NockScope) & { disableNetConnect(): void; cleanAll(): void }

const [referenceDir, eventsFile, batchArg] = process.argv.slice(2)
if (!referenceDir || !eventsFile) throw new Error('usage: reference-runner.ts <referenceDir> <events.ndjson> [batchSize]')
const batchSize = Number(batchArg ?? 1000)
const refRequire = createRequire(join(referenceDir, 'package.json'))
const nock = refRequire('nock') as Nock
const { createTestIntegration } = refRequire('@segment/actions-core') as { createTestIntegration(d: unknown): TestIntegration }
const destination = (refRequire('@segment/action-destinations/dist/destinations/tiktok-audiences') as { default: unknown }).default

// Segment's runtime receives parsed events; parsing the file is not part of its time.
const events = readFileSync(eventsFile, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as Payload)

let requests = 0
nock.disableNetConnect()
nock('https://business-api.tiktok.com')
  .persist()
  .post(/.*/)
  .reply(200, () => {
    requests++
    return { code: 0, message: 'OK', request_id: 'bench', data: {} }
  })

const integration = createTestIntegration(destination)
const started = performance.now()
for (let i = 0; i < events.length; i += batchSize) {
  await integration.testBatchAction('addToAudience', { events: events.slice(i, i + batchSize), useDefaultMappings: true, settings: {} })
  // The test harness keeps every response; production does not.
  integration.responses.length = 0
  integration.results.length = 0
}
const ms = performance.now() - started
process.stdout.write(JSON.stringify({ events: events.length, ms, requests, maxRss: process.resourceUsage().maxRSS * 1024 }) + '\n')
