/** Shared set-up for the emulator tests: a quiet emulator on a random port and small fetch helpers. */
import { createHash } from 'node:crypto'
import { startEmulator, type RunningEmulator, type StartEmulatorOptions } from '../../src/emulator/index.js'

export const ADV1 = '7000000000000000001'
export const ADV2 = '7000000000000000002'
export const TOKEN = 'emulator-access-token'

export interface Answer {
  status: number
  json: any
}

export class EmulatorClient {
  constructor(readonly emulator: RunningEmulator) {}

  static async start(opts: StartEmulatorOptions = {}): Promise<EmulatorClient> {
    return new EmulatorClient(await startEmulator({ log: false, ...opts }))
  }

  get state() {
    return this.emulator.state
  }

  /** Calls a TikTok route below `/open_api/v1.3`; `token: null` sends no Access-Token header. */
  async api(method: 'GET' | 'POST', path: string, opts: { body?: unknown; query?: Record<string, string>; token?: string | null } = {}): Promise<Answer> {
    const url = new URL(`${this.emulator.apiUrl}/v1.3${path}`)
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v)
    const headers: Record<string, string> = {}
    const token = opts.token === undefined ? TOKEN : opts.token
    if (token !== null) headers['Access-Token'] = token
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) })
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = text
    }
    return { status: res.status, json }
  }

  /** Calls the control API below `/_emulator`. */
  async control(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<Answer> {
    const res = await fetch(`${this.emulator.url}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    return { status: res.status, json: await res.json() }
  }

  async createAudience(name = 'Test audience', advertiserId = ADV1): Promise<string> {
    const { json } = await this.api('POST', '/segment/audience/', {
      body: { advertiser_id: advertiserId, action: 'create', custom_audience_name: name }
    })
    if (json.code !== 0) throw new Error(`create failed: ${json.message}`)
    return json.data.audience_id as string
  }

  close(): Promise<void> {
    return this.emulator.close()
  }
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex')
}

export function md5(s: string): string {
  return createHash('md5').update(s).digest('hex')
}
