/**
 * One built-in TikTok emulator per database. Several `serve` processes on one database, each with a
 * built-in emulator of its own, would each be a different "TikTok": an audience created through one
 * is unknown to the others. A `meta` row names the process whose built-in emulator the database's
 * tokens and audience ids belong to, refreshed by a heartbeat; another process refuses to start its
 * own while that claim is live.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Db } from '../store/index.js'

const CLAIM_KEY = 'builtin_emulator'
export const CLAIM_HEARTBEAT_MS = 5_000
/** A claim not refreshed for this long belongs to a process that is gone (or stuck): it is taken over. */
export const CLAIM_STALE_MS = 30_000

interface Claim {
  owner: string
  pid: number
  host: string
  /** Where that process serves it (for the message). */
  url: string
  /** Epoch ms of the last heartbeat. */
  heartbeat: number
}

/** Claims held by this process: a claim naming this pid but none of these is from an earlier process (a container's pid 1). */
const ownClaims = new Set<string>()

export interface EmulatorClaim {
  /** Where this process serves it, once known (written with the next heartbeat). */
  setUrl(url: string): void
  release(): Promise<void>
}

/** Why a second built-in emulator is refused; `serve` exits with it (its message is the whole story: no stack). */
export class EmulatorClaimedError extends Error {
  readonly plain = true
}

function parseClaim(value: string | null | undefined): Claim | undefined {
  try {
    const c = JSON.parse(value ?? '') as Claim
    return typeof c.owner === 'string' && typeof c.heartbeat === 'number' ? c : undefined
  } catch {
    return undefined
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether `c` still speaks for a running process. */
function isLive(c: Claim, now: number): boolean {
  if (c.host === hostname()) {
    if (c.pid === process.pid) return ownClaims.has(c.owner)
    if (!processIsAlive(c.pid)) return false // killed (kill -9, crash): no need to wait for the heartbeat to age
  }
  return now - c.heartbeat < CLAIM_STALE_MS
}

function refusal(c: Claim, now: number): string {
  const seen = Math.max(0, Math.round((now - c.heartbeat) / 1000))
  return [
    `Another tiktok-audiences serve (pid ${c.pid} on ${c.host}, ${c.url}, seen ${seen} s ago) runs the built-in TikTok emulator for this database.`,
    `Each process's built-in emulator would be a different "TikTok", unaware of the others' audiences and tokens.`,
    `Run one emulator for all of them (tiktok-audiences emulator --data DIR) and start every serve with TIKTOK_API_URL=http://HOST:3100/open_api`,
    `(and TIKTOK_APP_ID=emulator-app TIKTOK_APP_SECRET=emulator-secret TIKTOK_AUTH_URL=http://HOST:3100/portal/auth for Connect TikTok), or stop the other process`,
    `(a process that is gone loses its claim ${CLAIM_STALE_MS / 1000} s after its last heartbeat, at once when it ran on this host).`
  ].join('\n')
}

/**
 * Claims the database's built-in emulator for this process (`url`: where it is served), or throws
 * EmulatorClaimedError naming the process that has it. The claim is refreshed until release().
 */
export async function claimBuiltInEmulator(db: Db, url: string, warn: (message: string) => void): Promise<EmulatorClaim> {
  const mine: Claim = { owner: randomBytes(8).toString('hex'), pid: process.pid, host: hostname(), url, heartbeat: Date.now() }
  let written = JSON.stringify(mine)
  let claimed = false
  // Compare-and-set on the row's text: of several processes starting at once, exactly one wins.
  for (let attempt = 0; attempt < 5 && !claimed; attempt++) {
    const row = await db.get<{ value: string | null }>(`SELECT value FROM meta WHERE key = $1`, [CLAIM_KEY])
    if (!row) {
      claimed = (await db.run(`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, [CLAIM_KEY, written])).changes === 1
      continue
    }
    const other = parseClaim(row.value)
    const now = Date.now()
    if (other && isLive(other, now)) throw new EmulatorClaimedError(refusal(other, now))
    claimed = (await db.run(`UPDATE meta SET value = $2 WHERE key = $1 AND value = $3`, [CLAIM_KEY, written, row.value ?? ''])).changes === 1
  }
  if (!claimed)
    throw new EmulatorClaimedError('Could not claim the built-in TikTok emulator for this database: other processes kept changing the claim. Start again.')
  ownClaims.add(mine.owner)

  let lost = false
  const beat = async (): Promise<void> => {
    const next = JSON.stringify({ ...mine, heartbeat: Date.now() })
    try {
      if ((await db.run(`UPDATE meta SET value = $2 WHERE key = $1 AND value = $3`, [CLAIM_KEY, next, written])).changes === 1) written = next
      else if (!lost) {
        lost = true
        warn(
          `another process took over the built-in TikTok emulator of this database (this one missed its heartbeats for ${CLAIM_STALE_MS / 1000} s); they now answer as two different TikToks`
        )
      }
    } catch (err) {
      warn(`built-in emulator claim heartbeat failed: ${(err as Error).message}`)
    }
  }
  // One heartbeat at a time, each comparing with what the one before wrote.
  let beats: Promise<void> = Promise.resolve()
  const queueBeat = () => {
    beats = beats.then(beat)
  }
  const heartbeat = setInterval(queueBeat, CLAIM_HEARTBEAT_MS)
  heartbeat.unref()

  return {
    setUrl(url) {
      mine.url = url
      queueBeat()
    },
    async release() {
      clearInterval(heartbeat)
      await beats // else a heartbeat landing after the delete would bring the claim back
      ownClaims.delete(mine.owner)
      await db.run(`DELETE FROM meta WHERE key = $1 AND value = $2`, [CLAIM_KEY, written]).catch(() => undefined)
    }
  }
}

/** Where a running `serve` serves this database's built-in emulator (its claim is live), if one does: commands run beside it talk to it. */
export async function builtInEmulatorUrl(db: Db): Promise<string | undefined> {
  const row = await db.get<{ value: string | null }>(`SELECT value FROM meta WHERE key = $1`, [CLAIM_KEY])
  const c = parseClaim(row?.value)
  return c && isLive(c, Date.now()) ? c.url : undefined
}
