/** Reads of the TikTok emulator's control API (standalone `startEmulator` or the one mounted at /emulator). */
export interface EmuAudience {
  audience_id: string
  name: string
  advertiser_id: string
}
export interface EmuRequest {
  seq: number
  /** ISO-8601 time the request arrived. */
  time: string
  path: string
  body: unknown
  httpStatus: number
  code: number | null
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init)
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${r.status} ${await r.text()}`)
  return (await r.json()) as T
}

/** `base` is the emulator's root (`emu.url`, or `<service>/emulator`). */
export const emuAudiences = async (base: string): Promise<EmuAudience[]> => (await json<{ audiences: EmuAudience[] }>(`${base}/_emulator/audiences`)).audiences

export async function emuMembers(base: string, audienceId: string): Promise<Record<string, string[]>> {
  return (await json<{ members: Record<string, string[]> }>(`${base}/_emulator/audiences/${audienceId}/members`)).members
}

export async function emuRequests(base: string, path = '/segment/mapping/'): Promise<EmuRequest[]> {
  return (await json<{ requests: EmuRequest[] }>(`${base}/_emulator/requests?path=${encodeURIComponent(path)}`)).requests
}

export async function emuFaults(base: string, rules: Record<string, unknown>[]): Promise<void> {
  if (rules.length === 0) await json(`${base}/_emulator/faults`, { method: 'DELETE' })
  else await json(`${base}/_emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules }) })
}

/** Creates an audience through TikTok's own API, as a user would in TikTok Ads Manager; returns its id. */
export async function emuCreateAudience(apiUrl: string, name: string, advertiserId = '7000000000000000001', token = 'emulator-access-token'): Promise<string> {
  const r = await json<{ code: number; message: string; data: { audience_id: string } }>(`${apiUrl}/v1.3/segment/audience/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Access-Token': token },
    body: JSON.stringify({ advertiser_id: advertiserId, action: 'create', custom_audience_name: name })
  })
  if (r.code !== 0) throw new Error(`creating audience ${name}: ${r.code} ${r.message}`)
  return String(r.data.audience_id)
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await sleep(everyMs)
  }
}
