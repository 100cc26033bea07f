/**
 * Dropdown choices of the legacy actions' dynamic fields (segment-semantics §6.2, reference
 * api/index.js): advertisers from `/advertiser/info/`, audiences from `/dmp/custom_audience/list/`
 * paged 100 at a time until `page_info.total_page`. Errors are returned, never thrown.
 */
import type { ActionKey } from './definition.js'
import type { DynamicFieldResponse } from './types.js'

/** TikTok's envelope as the handlers need it; a thrown error counts like `code != 0`. */
export interface TikTokEnvelopeLike<T> {
  code: number
  message: string
  data?: T
}

/** The two TikTok calls the handlers make, implemented by the TikTok client (or a test double). */
export interface DynamicFieldClient {
  advertiserInfo(advertiserIds: string[]): Promise<TikTokEnvelopeLike<{ list: Array<{ advertiser_id: string; name: string }> }>>
  listAudiences(
    advertiserId: string,
    page: number,
    pageSize: number
  ): Promise<TikTokEnvelopeLike<{ list: Array<{ audience_id: string; name: string }>; page_info?: { total_page?: number } }>>
}

export interface DynamicFieldInput {
  settings: { advertiser_ids?: string[] }
  /** The values currently in the mapping editor. */
  payload: { selected_advertiser_id?: string; [key: string]: unknown }
}

export type DynamicFieldHandler = (client: DynamicFieldClient, input: DynamicFieldInput) => Promise<DynamicFieldResponse>

export const AUDIENCE_PAGE_SIZE = 100

function failure(err: unknown): { message?: string; code?: unknown } {
  return (err && typeof err === 'object' ? err : { message: String(err) }) as { message?: string; code?: unknown }
}

export const advertiserChoices: DynamicFieldHandler = async (client, { settings }) => {
  const ids = settings.advertiser_ids
  if (!ids) {
    // The reference JSON-encodes this message (it shows with quotes); sent here as plain text.
    return { choices: [], error: { message: 'BAD REQUEST - expected settings.advertiser_ids and got nothing!', code: '400' } }
  }
  if (!ids.length) {
    return { choices: [], error: { message: 'Sign in via OAuth on the settings page to load advertisers.', code: 'NOT_LOGGED_IN' } }
  }
  try {
    const result = await client.advertiserInfo(ids)
    if (result.code !== 0) throw { message: result.message, code: result.code }
    return { choices: (result.data?.list ?? []).map((a) => ({ label: a.name, value: a.advertiser_id })) }
  } catch (err) {
    // Like the reference: still offer the raw ids, so the user is not blocked.
    const { message, code } = failure(err)
    return {
      choices: ids.map((id) => ({ label: id, value: id })),
      error: {
        message: message ?? 'An error occurred while fetching advertisers.',
        code: code === undefined || code === null ? 'FETCH_ADVERTISERS_ERROR' : String(code)
      }
    }
  }
}

export const audienceChoices: DynamicFieldHandler = async (client, { payload }) => {
  const advertiserId = payload.selected_advertiser_id
  if (!advertiserId) {
    return {
      choices: [],
      error: { message: 'Please select Advertiser ID first to get list of Audience IDs.', code: 'FIELD_NOT_SELECTED' }
    }
  }
  try {
    const choices: DynamicFieldResponse['choices'] = []
    let totalPages = 1
    for (let page = 1; page <= totalPages; page++) {
      const result = await client.listAudiences(advertiserId, page, AUDIENCE_PAGE_SIZE)
      if (result.code !== 0) throw { message: result.message, code: result.code }
      totalPages = result.data?.page_info?.total_page || 1
      for (const a of result.data?.list ?? []) choices.push({ label: a.name, value: a.audience_id })
    }
    return { choices }
  } catch (err) {
    const { message, code } = failure(err)
    return {
      choices: [],
      error: {
        message: message ?? 'An error occurred while fetching audiences.',
        code: code === undefined || code === null ? 'FETCH_AUDIENCE_ERROR' : String(code)
      }
    }
  }
}

/** Handlers per action and field key (only the legacy actions have dynamic fields). */
export const dynamicFields: Partial<Record<ActionKey, Record<string, DynamicFieldHandler>>> = {
  addUser: { selected_advertiser_id: advertiserChoices, audience_id: audienceChoices },
  removeUser: { selected_advertiser_id: advertiserChoices, audience_id: audienceChoices },
  createAudience: { selected_advertiser_id: advertiserChoices }
}

/** Segment's answer for a field without handler. */
export async function runDynamicField(
  action: ActionKey,
  fieldKey: string,
  client: DynamicFieldClient,
  input: DynamicFieldInput
): Promise<DynamicFieldResponse> {
  const handler = dynamicFields[action]?.[fieldKey]
  if (!handler) return { choices: [], nextPage: '', error: { message: `No dynamic field named ${fieldKey} found.`, code: '404' } }
  return handler(client, input)
}
