/**
 * The quick start survives a restart: `serve` with the built-in emulator, a destination connected
 * through the emulator's OAuth consent page (its token exists only in the emulator's state) and an
 * audience created in it; stopped (SIGTERM, then kill -9) and started again on the same data folder,
 * the next event reaches the same TikTok audience, nothing is paused or failed, and the members
 * include those from before and after.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { first } from '../../src/util/array.js'
import { startServe, stopAllServes, type ServeProcess } from '../helpers/serve.js'

after(stopAllServes)

const PASSWORD = 'restart-test'
const ADV = '7000000000000000001'
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` }

async function until<T>(what: string, check: () => Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs
  let last: T | undefined
  for (;;) {
    last = await check()
    if (last) return last as NonNullable<T>
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function api(serve: ServeProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(serve.url + path, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual'
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

/** Connect TikTok as the console does: /oauth/tiktok/start → the emulator's consent page → approve → callback. */
async function authorise(serve: ServeProcess, destinationId: number): Promise<void> {
  const start = await fetch(`${serve.url}/oauth/tiktok/start?destination=${destinationId}`, { headers: auth, redirect: 'manual' })
  assert.equal(start.status, 302)
  const consent = new URL(start.headers.get('location')!, serve.url)
  const approved = await fetch(`${consent}&approve=1`, { redirect: 'manual' })
  assert.equal(approved.status, 302)
  // The browser brings back the cookie /oauth/tiktok/start set (the state is bound to it).
  const cookie = first(start.headers.get('set-cookie')!.split(';'))
  const callback = await fetch(approved.headers.get('location')!, { redirect: 'manual', headers: { cookie } })
  assert.equal(callback.status, 302, await callback.text())
}

async function send(serve: ServeProcess, writeKey: string, i: number): Promise<void> {
  const res = await fetch(`${serve.url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
    body: JSON.stringify(audienceEvent({ userId: `u${i}`, email: `person${i}@example.com` }, 'vip', true))
  })
  assert.equal(res.status, 200, await res.text())
}

async function members(serve: ServeProcess, audienceId: string): Promise<string[]> {
  const res = await fetch(`${serve.url}/emulator/_emulator/audiences/${audienceId}/members`)
  if (res.status !== 200) return []
  return ((await res.json()) as { members: { EMAIL_SHA256: string[] } }).members.EMAIL_SHA256
}

/** Every destination active, nothing failed, nothing waiting. */
async function nothingPausedOrFailed(serve: ServeProcess): Promise<void> {
  const destinations = (await api(serve, 'GET', '/api/destinations')).body as { name: string; status: string; statusReason: string | null }[]
  for (const d of destinations) assert.equal(d.status, 'active', `${d.name}: ${d.statusReason}`)
  const stats = (await api(serve, 'GET', '/api/stats')).body
  assert.equal(stats.failed, 0, JSON.stringify(stats))
}

const hashes = (...people: number[]) => people.map((i) => sha256(`person${i}@example.com`)).sort()

test('restart (SIGTERM, then kill -9) with the built-in emulator: the next event reaches the same TikTok audience, nothing paused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-restart-'))
  const env = {
    DATABASE_URL: `sqlite:${join(dir, 'data', 'tiktok-audiences.db')}`,
    ADMIN_PASSWORD: PASSWORD,
    SECRET_KEY: undefined,
    TIKTOK_API_URL: undefined,
    TIKTOK_APP_ID: undefined
  }
  let serve = await startServe([], env)
  assert.match(
    serve.output(),
    new RegExp(`TikTok emulator state: ${join(dir, 'data', 'tiktok-emulator.jsonl')} \\(kept across restarts; POST /_emulator/reset forgets\\)`)
  )
  const writeKey = first((await api(serve, 'GET', '/api/sources')).body as { writeKey: string }[]).writeKey
  const destination = (await api(serve, 'POST', '/api/destinations', { name: 'mine', source: 'default' })).body as { id: number }
  for (const action of ['addToAudience', 'removeFromAudience']) {
    assert.equal((await api(serve, 'POST', `/api/destinations/${destination.id}/mappings`, { action, enabled: true })).status, 201)
  }
  await authorise(serve, destination.id)
  assert.equal((await api(serve, 'PATCH', `/api/destinations/${destination.id}`, { enabled: true })).status, 200)
  const connected = await api(serve, 'PUT', `/api/destinations/${destination.id}/audiences/vip`, { name: 'VIP', advertiserId: ADV })
  assert.equal(connected.status, 201, JSON.stringify(connected.body))
  const audienceId = connected.body.externalAudienceId as string

  await send(serve, writeKey, 1)
  await until('person 1 in the TikTok audience', async () => (await members(serve, audienceId)).length === 1)

  for (const [signal, before, next] of [
    ['SIGTERM', [1], 2],
    ['SIGKILL', [1, 2], 3]
  ] as const) {
    await serve.stop(signal)
    serve = await startServe([], env)
    await send(serve, writeKey, next)
    await until(`person ${next} delivered after ${signal}`, async () => (await members(serve, audienceId)).length === before.length + 1)
    assert.deepEqual(await members(serve, audienceId), hashes(...before, next), `after ${signal}: the same audience holds the members from before and after`)
    const listed = (await (await fetch(`${serve.url}/emulator/_emulator/audiences`)).json()) as { audiences: { audience_id: string; name: string }[] }
    assert.equal(listed.audiences.filter((a) => a.name === 'VIP').length, 1, 'no second VIP audience was created')
    await nothingPausedOrFailed(serve)
  }
  await serve.stop('SIGTERM')
})
