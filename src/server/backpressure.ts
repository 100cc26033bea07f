/**
 * Back-pressure (issue 17 item 4): past a bound — changes waiting for delivery (TTA_MAX_QUEUED) or
 * free disk space where the data lives (TTA_MIN_FREE_DISK_MB) — ingestion answers 429 with
 * Retry-After instead of growing the database without bound while TikTok is down. The readings are
 * refreshed once a second in the background (the queue's maintained pending totals, one statfs), so
 * a request only reads a cached answer; the bound is soft by at most a second of ingestion.
 */
import { existsSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Logger } from 'pino'

export const DEFAULT_MAX_QUEUED = 5_000_000
export const DEFAULT_MIN_FREE_DISK_MB = 500
const REFRESH_MS = 1000

export interface BackPressureBounds {
  /** Changes waiting for delivery at which ingestion pauses; 0: no bound. */
  maxQueued: number
  /** Free space (MB) on the data folder's disk below which ingestion pauses; 0: no bound. */
  minFreeDiskMb: number
}

function bound(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name]
  if (v === undefined || v.trim() === '') return fallback
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number ≥ 0 (0 turns the bound off), got "${v}"`)
  return n
}

/** TTA_MAX_QUEUED and TTA_MIN_FREE_DISK_MB over the defaults. */
export function backPressureBounds(env: NodeJS.ProcessEnv = process.env): BackPressureBounds {
  return { maxQueued: bound(env, 'TTA_MAX_QUEUED', DEFAULT_MAX_QUEUED), minFreeDiskMb: bound(env, 'TTA_MIN_FREE_DISK_MB', DEFAULT_MIN_FREE_DISK_MB) }
}

const count = (n: number) => Math.round(n).toLocaleString('en-US')

export class BackPressure {
  private refusal: string | undefined
  private timer: NodeJS.Timeout | undefined
  private reading = false
  private diskWarned = false

  constructor(
    readonly bounds: BackPressureBounds,
    /** Changes waiting for delivery (the queue's maintained totals, not a COUNT). */
    private readonly queued: () => Promise<number>,
    /** A folder on the disk the database writes to. */
    private readonly diskPath: string,
    private readonly log?: Logger
  ) {}

  /** Why ingestion must wait now (a message naming the bound), or undefined. Reads the cached state only. */
  check(): string | undefined {
    return this.refusal
  }

  /** Reads the state once now, then every second until `stop`. */
  async start(): Promise<void> {
    await this.refresh()
    this.timer ??= setInterval(() => void this.refresh(), REFRESH_MS)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  async refresh(): Promise<void> {
    if (this.reading) return
    this.reading = true
    try {
      this.refusal = (await this.queueRefusal()) ?? (await this.diskRefusal())
    } catch (err) {
      // The database may be down: that has its own answers (503); keep the last reading meanwhile.
      this.log?.warn({ err }, 'back-pressure: reading the queue depth failed')
    } finally {
      this.reading = false
    }
  }

  private async queueRefusal(): Promise<string | undefined> {
    const max = this.bounds.maxQueued
    if (max <= 0) return undefined
    const n = await this.queued()
    if (n < max) return undefined
    return `the delivery queue is full: ${count(n)} changes wait for TikTok, the bound is ${count(max)} (TTA_MAX_QUEUED); retry later`
  }

  private async diskRefusal(): Promise<string | undefined> {
    const min = this.bounds.minFreeDiskMb
    if (min <= 0) return undefined
    let freeMb: number
    try {
      const s = await statfs(nearestExisting(this.diskPath))
      freeMb = (s.bavail * s.bsize) / (1024 * 1024)
    } catch (err) {
      if (!this.diskWarned) this.log?.warn({ err, path: this.diskPath }, 'back-pressure: cannot read the free disk space; that bound is not applied')
      this.diskWarned = true
      return undefined
    }
    if (freeMb >= min) return undefined
    return `the disk of the data folder is nearly full: ${count(freeMb)} MB free, the bound is ${count(min)} MB (TTA_MIN_FREE_DISK_MB); retry later`
  }
}

/** `path`, or its nearest folder that exists (a data folder not created yet is on its parent's disk). */
function nearestExisting(path: string): string {
  let p = resolve(path)
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p)
  return p
}
