/**
 * Load for the fault suite, sent as Segment's SDKs send it: `/v1/batch` requests, each retried with
 * the same messageIds until it is answered 200 (waiting as `Retry-After` says, at most a second),
 * one request in flight per lane. Every person enters and exits audiences in turn, so that the
 * last acknowledged event of each (audience, person) is the state TikTok must end in — which
 * proves per-audience order. `verify` checks the end state against TikTok and the admin API.
 */
import assert from 'node:assert/strict'
import { at, first } from '../../src/util/array.js'
import { audienceEvent, sha256 } from './events.js'
import { emuMembers, emuRequests, sleep } from './emu-control.js'
import { WRITE_KEY, type Rig, type Stats } from './fault-rig.js'

export interface TrafficOptions {
  /** Base URL of the service (read anew for every request: the service may be restarted). */
  url: () => string
  audiences: string[]
  /** People per lane (lanes use disjoint people). */
  people?: number
  perBatch?: number
  lanes?: number
  /** Pause between batches of one lane (ms): sets the load. */
  pauseMs?: number
  /** Tag that keeps people and messageIds of different runs on one database apart. */
  tag?: string
}

interface Acked {
  audience: string
  person: string
  member: boolean
}

export class Traffic {
  /** messageId → what the acknowledged event said. */
  readonly acked = new Map<string, Acked>()
  /** Answers other than 200 and failed connections, by status ("error" for no answer). */
  readonly refusals = new Map<string, number>()
  requests = 0
  /** Answers 429/5xx that carried no `Retry-After` (Segment's clients need it to wait). */
  withoutRetryAfter = 0
  private stopping = false
  private lanes: Promise<void>[] = []
  private readonly state = new Map<string, boolean>()
  private seq = 0

  constructor(private readonly o: TrafficOptions) {}

  start(): this {
    const lanes = this.o.lanes ?? 2
    for (let l = 0; l < lanes; l++) this.lanes.push(this.lane(l))
    return this
  }

  /** Stops making new batches; resolves once every batch already made is acknowledged. */
  async stop(timeoutMs = 120_000): Promise<void> {
    this.stopping = true
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`the clients' last batches were not acknowledged within ${timeoutMs} ms (refusals ${JSON.stringify(Object.fromEntries(this.refusals))})`)
          ),
        timeoutMs
      )
    })
    try {
      await Promise.race([Promise.all(this.lanes), late])
    } finally {
      clearTimeout(timer)
    }
  }

  private nextBatch(lane: number): { body: string; events: [string, Acked][] } {
    const perBatch = this.o.perBatch ?? 50
    const people = this.o.people ?? 200
    const events: [string, Acked][] = []
    const bodies: Record<string, unknown>[] = []
    const used = new Set<string>()
    while (events.length < perBatch) {
      const person = `${this.o.tag ?? 'p'}-${lane}-${Math.floor(Math.random() * people)}`
      const audience = at(this.o.audiences, Math.floor(Math.random() * this.o.audiences.length))
      const key = `${audience}|${person}`
      // One change per identity per batch keeps the expected number of changes exact.
      if (used.has(key) && used.size < people * this.o.audiences.length) continue
      used.add(key)
      const member = !(this.state.get(key) ?? false)
      this.state.set(key, member)
      const messageId = `${this.o.tag ?? 'm'}-${this.seq++}`
      events.push([messageId, { audience, person, member }])
      const e = audienceEvent({ userId: person, email: `${person}@faults.example.com` }, audience, member, { messageId })
      e.timestamp = new Date().toISOString()
      bodies.push(e)
    }
    return { body: JSON.stringify({ batch: bodies }), events }
  }

  private async lane(lane: number): Promise<void> {
    while (!this.stopping) {
      const { body, events } = this.nextBatch(lane)
      for (;;) {
        this.requests++
        let wait = 200
        try {
          const r = await fetch(`${this.o.url()}/v1/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
            body,
            signal: AbortSignal.timeout(30_000)
          })
          await r.arrayBuffer()
          if (r.status === 200) {
            for (const [id, a] of events) this.acked.set(id, a)
            break
          }
          this.count(String(r.status))
          if ((r.status === 429 || r.status >= 500) && !r.headers.get('retry-after')) this.withoutRetryAfter++
          wait = Math.min(1000, Number(r.headers.get('retry-after') ?? 0.2) * 1000)
        } catch {
          this.count('error')
        }
        await sleep(wait)
      }
      if (this.o.pauseMs) await sleep(this.o.pauseMs)
    }
  }

  private count(key: string): void {
    this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1)
  }

  /** Audience → people whose last acknowledged event put them in it. */
  expectedMembers(): Map<string, Set<string>> {
    const last = new Map<string, Acked>()
    for (const a of this.acked.values()) last.set(`${a.audience}|${a.person}`, a)
    const out = new Map<string, Set<string>>(this.o.audiences.map((k) => [k, new Set()]))
    for (const a of last.values()) if (a.member) out.get(a.audience)!.add(emailHash(a.person))
    return out
  }
}

export const emailHash = (person: string): string => sha256(`${person}@faults.example.com`)

export interface VerifyOptions {
  /** Audiences whose changes may end dead-lettered (deleted in TikTok): checked by the caller. */
  deadAudiences?: string[]
  /** After a crash TikTok may get a change twice (an idempotent re-add): only count them. */
  allowRepeats?: boolean
}

export interface Verdict {
  acked: number
  stats: Stats
  /** Rows TikTok applied more often than acknowledged events asked for. */
  repeats: number
  tiktokRequests: number
}

/**
 * Every acknowledged event was received once and settled (delivered or dead-lettered), TikTok's
 * members are exactly the last acknowledged state of each person, and no row was applied more
 * often than events asked for it (unless `allowRepeats`).
 */
export async function verify(rig: Rig, traffic: Traffic, stats: Stats, opts: VerifyOptions = {}): Promise<Verdict> {
  const acked = traffic.acked.size
  assert.equal(stats.received, acked, 'every acknowledged event was stored exactly once (and nothing else)')
  assert.equal(stats.pending, 0)
  assert.equal(stats.delivered + stats.superseded + stats.failed, acked, `every acknowledged event ended delivered or dead-lettered: ${JSON.stringify(stats)}`)
  if (!opts.deadAudiences?.length) assert.equal(stats.failed, 0, 'nothing was dead-lettered')

  const expected = traffic.expectedMembers()
  for (const [key, want] of expected) {
    if (opts.deadAudiences?.includes(key)) continue
    const got = new Set((await emuMembers(rig.emu.url, rig.audienceIds.get(key)!)).EMAIL_SHA256)
    const missing = [...want].filter((h) => !got.has(h)).length
    const extra = [...got].filter((h) => !want.has(h)).length
    assert.ok(missing === 0 && extra === 0, `audience ${key}: ${missing} acknowledged members missing, ${extra} present that exited last (of ${want.size})`)
  }

  // Rows applied per (audience, action, hash) vs events asking for that action.
  const asked = new Map<string, number>()
  const idOf = new Map([...rig.audienceIds].map(([k, id]) => [id, k]))
  for (const a of traffic.acked.values()) {
    const k = `${a.audience}|${a.member ? 'add' : 'delete'}|${emailHash(a.person)}`
    asked.set(k, (asked.get(k) ?? 0) + 1)
  }
  const applied = new Map<string, number>()
  const requests = (await emuRequests(rig.emu.url)).filter((r) => r.code === 0)
  for (const r of requests) {
    const body = r.body as { action?: string; batch_data?: { id?: string; audience_ids?: string[] }[][] }
    for (const row of body.batch_data ?? []) {
      const cell = row.find((c) => c.id)
      if (!cell) continue
      const k = `${idOf.get(first(cell.audience_ids!))}|${body.action ?? 'add'}|${cell.id}`
      applied.set(k, (applied.get(k) ?? 0) + 1)
    }
  }
  let repeats = 0
  for (const [k, n] of applied) repeats += Math.max(0, n - (asked.get(k) ?? 0))
  if (!opts.allowRepeats) assert.equal(repeats, 0, 'no change reached TikTok more often than events asked for it')
  return { acked, stats, repeats, tiktokRequests: requests.length }
}
