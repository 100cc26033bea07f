/**
 * Request, headers, keep-alive timeouts and the connection cap (issue 21 item 4), with small values
 * from the environment: a body trickled a byte a second is answered 408 and closed, idle keep-alive
 * connections and connections that never send a request are closed, connections past the cap are
 * closed on arrival — and a 500 KB /v1/batch sent over 1.5 s still gets its 200.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { httpLimits } from '../../src/server/http-limits.js'
import type { startService } from '../../src/server/serve.js'
import { listSources } from '../../src/store/sql/config.js'
import { audienceEvent } from '../helpers/events.js'

const REQUEST_TIMEOUT_MS = 3000
const HEADERS_TIMEOUT_MS = 2000
const KEEP_ALIVE_TIMEOUT_MS = 500
const MAX_CONNECTIONS = 30

let dir: string
let service: Awaited<ReturnType<typeof startService>>
let port: number
let writeKey: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tta-http-limits-'))
  Object.assign(process.env, {
    DATABASE_URL: `sqlite:${join(dir, 'limits.db')}`,
    ADMIN_PASSWORD: 'limits-test-password',
    TTA_ROUTE_WORKERS: '0',
    TTA_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    TTA_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    TTA_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
    TTA_MAX_CONNECTIONS: String(MAX_CONNECTIONS)
  })
  const { startService } = await import('../../src/server/serve.js')
  service = await startService({ port: 0, banner: false, dataDir: dir })
  port = Number(new URL(service.url).port)
  writeKey = (await listSources(service.ctx.store.db)).find((s) => s.writeKey)!.writeKey!
})
after(async () => {
  await service?.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Watched {
  socket: Socket
  received: () => string
  /** Resolves with ms from `since` when the server closes the connection, or rejects after `deadlineMs`. */
  closedWithin(deadlineMs: number): Promise<number>
}

function open(): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    let closedAt = 0
    const closed = new Promise<void>((r) => socket.once('close', () => ((closedAt = Date.now()), r())))
    socket.on('data', (d) => (data += d.toString()))
    socket.on('error', () => undefined) // a refused/reset connection shows as 'close'
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => data,
        async closedWithin(deadlineMs) {
          const since = Date.now()
          const timer = sleep(deadlineMs).then(() => 'deadline' as const)
          if ((await Promise.race([closed, timer])) === 'deadline') {
            socket.destroy()
            throw new Error(`the server kept the connection open for more than ${deadlineMs} ms`)
          }
          return closedAt - since
        }
      })
    )
    socket.once('error', reject)
  })
}

test('the environment sets the limits; bad values are refused with the variable named', () => {
  assert.deepEqual(httpLimits({}), {
    requestTimeoutMs: 30_000,
    headersTimeoutMs: 10_000,
    keepAliveTimeoutMs: 5_000,
    idleTimeoutMs: 120_000,
    maxConnections: 1024
  })
  assert.throws(() => httpLimits({ TTA_MAX_CONNECTIONS: 'lots' }), /TTA_MAX_CONNECTIONS must be a positive whole number, got "lots"/)
  assert.throws(
    () => httpLimits({ TTA_REQUEST_TIMEOUT_MS: '5000', TTA_HEADERS_TIMEOUT_MS: '6000' }),
    /TTA_HEADERS_TIMEOUT_MS \(6000\) must not exceed TTA_REQUEST_TIMEOUT_MS \(5000\)/
  )
})

test('a body sent one byte a second is answered 408 and closed by the request timeout', async () => {
  const c = await open()
  c.socket.write(
    `POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Basic ${Buffer.from(`${writeKey}:`).toString('base64')}\r\nContent-Length: 1000\r\n\r\n{`
  )
  const drip = setInterval(() => c.socket.writable && c.socket.write(' '), 1000)
  try {
    const elapsed = await c.closedWithin(REQUEST_TIMEOUT_MS + 4000)
    assert.match(c.received(), /^HTTP\/1\.1 408 /)
    assert.ok(elapsed >= REQUEST_TIMEOUT_MS - 500, `closed after ${elapsed} ms`)
  } finally {
    clearInterval(drip)
  }
})

test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
  const c = await open()
  c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n')
  while (!/\r\n\r\n[\s\S]*\}/.test(c.received())) await sleep(20)
  assert.match(c.received(), /^HTTP\/1\.1 200 /)
  assert.match(c.received(), /keep-alive/i)
  // Node adds up to a second to the keep-alive timeout before it closes.
  const elapsed = await c.closedWithin(KEEP_ALIVE_TIMEOUT_MS + 2500)
  assert.ok(elapsed >= KEEP_ALIVE_TIMEOUT_MS - 100, `closed after ${elapsed} ms`)
})

test('a connection that never sends a request is closed after the headers timeout', async () => {
  const c = await open()
  const elapsed = await c.closedWithin(HEADERS_TIMEOUT_MS + 3000)
  assert.ok(elapsed >= HEADERS_TIMEOUT_MS - 500, `closed after ${elapsed} ms`)
})

test('connections past TTA_MAX_CONNECTIONS are closed on arrival; the service answers again once they go', async () => {
  const sockets = await Promise.all(Array.from({ length: MAX_CONNECTIONS + 15 }, () => open()))
  await sleep(300)
  const closed = sockets.filter((s) => s.socket.destroyed)
  const held = await new Promise<number>((r) => service.app.server.getConnections((_e, n) => r(n)))
  assert.ok(held <= MAX_CONNECTIONS, `${held} connections open, the cap is ${MAX_CONNECTIONS}`)
  assert.ok(closed.length >= 15, `${closed.length} of ${sockets.length} connections closed on arrival`)
  for (const s of sockets) s.socket.destroy()
  await sleep(100)
  assert.equal((await fetch(`${service.url}/healthz`)).status, 200)
})

test('a 500 KB /v1/batch sent over 1.5 s is not cut by the request timeout', async () => {
  const batch = []
  for (let i = 0; batch.length === 0 || JSON.stringify({ batch }).length < 500_000; i++) {
    batch.push(audienceEvent({ userId: `big-${i}`, email: `big-${i}@example.com` }, 'big_batch', true, { messageId: `big-${i}` }))
  }
  const body = Buffer.from(JSON.stringify({ batch }))
  const c = await open()
  c.socket.write(
    `POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Basic ${Buffer.from(`${writeKey}:`).toString('base64')}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`
  )
  const pieces = 10
  for (let i = 0; i < pieces; i++) {
    c.socket.write(body.subarray(Math.floor((i * body.length) / pieces), Math.floor(((i + 1) * body.length) / pieces)))
    await sleep(150)
  }
  await c.closedWithin(REQUEST_TIMEOUT_MS + 5000)
  assert.match(c.received(), /^HTTP\/1\.1 200 /, c.received().slice(0, 300))
})
