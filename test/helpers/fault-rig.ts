/**
 * The fault suite's rig (test/reliability): `serve` as a child process on its own database, a
 * standalone TikTok emulator in the test process (its state outlives every restart of the
 * service), a config connecting a few audiences, and the admin API. Durations come from
 * `faultMs`: short by default (CI), the issue's full lengths with RELIABILITY_FULL=1.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { emuAudiences, waitFor } from './emu-control.js'
import { startServe, type ServeProcess } from './serve.js'

export const RELIABILITY_FULL = process.env.RELIABILITY_FULL === '1'

/** `ciMs` normally (CI and local runs), `fullMs` with RELIABILITY_FULL=1. */
export const faultMs = (ciMs: number, fullMs: number): number => (RELIABILITY_FULL ? fullMs : ciMs)

export const ADMIN_PASSWORD = 'fault-rig'
export const WRITE_KEY = 'wk_faults'
export const ADVERTISER = '7000000000000000001'

export interface RigOptions {
  audiences: string[]
  /** Default: a fresh SQLite file in the rig's folder. */
  databaseUrl?: string
  /** Default: a new temporary folder (removed by close()). */
  dir?: string
  batchSize?: number
  /** YAML flow mapping of the config's `delivery:` section. */
  delivery?: string
  env?: Record<string, string | undefined>
}

export interface Rig {
  dir: string
  emu: RunningEmulator
  serve: ServeProcess
  startedAt: number
  /** Audience key → TikTok audience id. */
  audienceIds: Map<string, string>
  destinationId: number
  /** Admin API call (HTTP Basic), parsed JSON; throws on a non-2xx answer. */
  api<T = Record<string, unknown>>(path: string, init?: { method?: string; body?: unknown }): Promise<T>
  /** Kills (SIGKILL) or stops (SIGTERM) the service and starts it again on the same database. */
  restart(signal?: NodeJS.Signals): Promise<void>
  /** Takes TikTok off the network (the port refuses connections) until `up()`; its state is kept. */
  down(): Promise<void>
  up(): Promise<void>
  close(): Promise<void>
}

export async function startRig(opts: RigOptions): Promise<Rig> {
  const ownDir = !opts.dir
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tta-faults-'))
  // A big request log: the duplicate check reads every request TikTok applied.
  let emu = await startEmulator({ log: false, qps: 0, requestLogSize: 1_000_000, requestLogBodyBytes: 512 * 1024 * 1024 })
  const state = emu.state
  const port = emu.port
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    `
sources:
  - { name: engage, writeKey: ${WRITE_KEY} }
destinations:
  - name: tiktok
    source: engage
    mode: native
    normalization: segment
    accessToken: emulator-access-token
    batchSize: ${opts.batchSize ?? 200}
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
      - { name: Remove, action: removeFromAudience, mapping: { send_phone: false, send_advertising_id: false } }
    audiences:
${opts.audiences.map((k) => `      - { key: ${k}, name: "Fault ${k}", advertiserId: "${ADVERTISER}" }`).join('\n')}
delivery: ${opts.delivery ?? '{ windowMs: 50, retryBaseMs: 100, retryMaxMs: 2000, concurrency: 4 }'}
`
  )
  const env = {
    DATABASE_URL: opts.databaseUrl ?? `sqlite:${join(dir, 'queue.db')}`,
    TIKTOK_API_URL: emu.apiUrl,
    ADMIN_PASSWORD,
    LOG_LEVEL: 'warn',
    ...opts.env
  }
  const start = () => startServe(['--config', config], env, 60_000)
  const rig: Rig = {
    dir,
    emu,
    serve: await start(),
    startedAt: Date.now(),
    audienceIds: new Map(),
    destinationId: 0,
    async api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
      const r = await fetch(`${rig.serve.url}/api${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`,
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' })
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body)
      })
      const text = await r.text()
      if (!r.ok) throw new Error(`${init.method ?? 'GET'} /api${path}: ${r.status} ${text}`)
      return JSON.parse(text) as T
    },
    async restart(signal: NodeJS.Signals = 'SIGKILL') {
      await rig.serve.stop(signal)
      rig.serve = await start()
    },
    async down() {
      await emu.close()
    },
    async up() {
      emu = await startEmulator({ log: false, port, state })
      rig.emu = emu
    },
    async close() {
      await rig.serve.stop('SIGKILL')
      await emu.close().catch(() => undefined)
      if (ownDir) rmSync(dir, { recursive: true, force: true })
    }
  }
  const names = new Map(opts.audiences.map((k) => [`Fault ${k}`, k]))
  for (const a of await emuAudiences(emu.url)) if (names.has(a.name)) rig.audienceIds.set(names.get(a.name)!, a.audience_id)
  assert.equal(rig.audienceIds.size, opts.audiences.length, 'the config created one TikTok audience per connection')
  const dests = await rig.api<{ id: number; name: string }[]>('/destinations')
  rig.destinationId = dests.find((d) => d.name === 'tiktok')!.id
  return rig
}

export interface Stats {
  received: number
  delivered: number
  failed: number
  pending: number
  retrying: number
  superseded: number
}

/** Waits until nothing is pending (delivered or dead-lettered); the last stats. */
export async function drained(rig: Rig, timeoutMs: number): Promise<Stats> {
  let stats: Stats | undefined
  const ok = await waitFor(
    async () => {
      stats = await rig.api<Stats>('/stats').catch(() => undefined)
      return stats !== undefined && stats.pending === 0
    },
    timeoutMs,
    250
  )
  assert.ok(ok, `the queue drained within ${timeoutMs} ms: ${JSON.stringify(stats)}\n${rig.serve.output().slice(-3000)}`)
  return stats!
}
