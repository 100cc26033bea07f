/**
 * Segment's testAuthentication for this destination (segment-semantics §6.1): no token → the
 * reference's "Please authenticate via Oauth…"; `/user/info/` not answering `code: 0` → "Invalid
 * Oauth access token…". Used before enabling a destination and when a token is pasted.
 */
import type { TikTokClient } from '../../tiktok/client.js'
import { TikTokError } from '../../tiktok/errors.js'

export const AUTH_MESSAGES = {
  noToken: 'Please authenticate via Oauth before updating other settings and/or enabling the destination.',
  invalidToken:
    'Invalid Oauth access token. Please reauthenticate to retrieve a valid access token before updating other settings and/or enabling the destination.'
} as const

export type AuthTest = { ok: true } | { ok: false; message: string; tiktok?: { code?: number; message: string } }

export async function testAuthentication(tiktok: TikTokClient, accessToken: string | null | undefined): Promise<AuthTest> {
  if (!accessToken) return { ok: false, message: AUTH_MESSAGES.noToken }
  try {
    await tiktok.withToken(accessToken).userInfo()
    return { ok: true }
  } catch (err) {
    if (!(err instanceof TikTokError)) throw err
    return { ok: false, message: AUTH_MESSAGES.invalidToken, tiktok: { code: err.code, message: err.message } }
  }
}
