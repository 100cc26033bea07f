/**
 * OAuth 2 advertiser authorisation with TikTok (SPEC §2.6). `/oauth/tiktok/start` (admin) stores a
 * random single-use `state` for the destination and redirects to TikTok's consent page;
 * `/oauth/tiktok/callback` is TikTok's redirect — the state is its proof — exchanges the code,
 * stores the token encrypted with the granted advertisers, resumes a paused destination and
 * returns to the console.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { getDestination } from '../store/sql/config.js'
import { storeDestinationToken } from '../store/sql/admin-config.js'
import { consumeOAuthState, insertOAuthState, oauthStateBinding } from '../store/sql/admin-oauth.js'
import { TikTokError } from '../tiktok/errors.js'
import { requireAdmin } from './admin-auth.js'
import type { ServerContext } from './context.js'
import { cookieValue, safeEqual } from './session.js'

/** How long a started authorisation may take (TikTok's auth code itself lives an hour). */
export const OAUTH_STATE_TTL_MS = 15 * 60_000

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function page(reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  return (
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      // A page without script or style: allow nothing.
      .header('content-security-policy', "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
          `<body><main><h1>${escapeHtml(title)}</h1><p role="alert">${escapeHtml(message)}</p><p><a href="/">Back to the console</a></p></main></body></html>`
      )
  )
}

/**
 * The browser that starts a flow keeps a nonce in this cookie; its hash is stored with the state, and
 * the callback must bring it: a callback link from someone else's flow (login CSRF) is refused. Lax,
 * not Strict like the session cookie: TikTok's consent page redirects back from another site.
 */
const BINDING_COOKIE = 'tta_oauth'
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')

const STATE_PROBLEMS = {
  unknown: "This authorisation link is not one this service started (unknown state). Start again from the destination's Settings: Connect TikTok.",
  expired: "This authorisation took too long and its state has expired. Start again from the destination's Settings: Connect TikTok.",
  used: "This authorisation was already completed (the state was used once). Start again from the destination's Settings if you need a new token.",
  browser:
    "This authorisation was started in another browser (or its cookie is gone). Start again from the destination's Settings in this browser: Connect TikTok."
} as const

export const oauthPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: { destination?: string } }>('/oauth/tiktok/start', { onRequest: requireAdmin(ctx) }, async (request, reply) => {
    const id = Number(request.query.destination)
    if (!Number.isInteger(id) || id < 1) return reply.code(400).send({ error: '"destination" (the destination id) is required', field: 'destination' })
    if (!(await getDestination(ctx.store.db, ctx.store.secrets, id))) return reply.code(404).send({ error: `destination ${id} not found` })
    if (!ctx.oauth.appId || !ctx.oauth.secret) {
      return reply
        .code(409)
        .send({ error: 'No TikTok app is configured: set TIKTOK_APP_ID, TIKTOK_APP_SECRET and PUBLIC_URL, or paste a long-lived access token instead.' })
    }
    const state = randomBytes(24).toString('base64url')
    const nonce = randomBytes(24).toString('base64url')
    await insertOAuthState(ctx.store.db, state, id, Date.now(), OAUTH_STATE_TTL_MS, sha256(nonce))
    const secure = request.protocol === 'https' || ctx.publicUrl.startsWith('https:') ? '; Secure' : ''
    reply.header('set-cookie', `${BINDING_COOKIE}=${nonce}; Path=/oauth/tiktok/callback; HttpOnly; SameSite=Lax; Max-Age=${OAUTH_STATE_TTL_MS / 1000}${secure}`)
    const url = new URL(ctx.oauth.authUrl)
    url.searchParams.set('app_id', ctx.oauth.appId)
    url.searchParams.set('state', state)
    url.searchParams.set('redirect_uri', ctx.oauth.redirectUri)
    return reply.redirect(url.toString(), 302)
  })

  app.get<{ Querystring: { auth_code?: string; code?: string; state?: string; error?: string; error_description?: string } }>(
    '/oauth/tiktok/callback',
    async (request, reply) => {
      const q = request.query
      if (q.error) {
        const denied = q.error === 'access_denied'
        if (q.state) await consumeOAuthState(ctx.store.db, q.state, Date.now())
        return page(
          reply,
          denied ? 403 : 400,
          denied ? 'TikTok access was denied' : 'TikTok authorisation failed',
          denied
            ? "You denied access on TikTok's consent page, so no token was stored. Connect TikTok again to authorise."
            : `TikTok answered: ${q.error_description ?? q.error}`
        )
      }
      if (!q.state) return page(reply, 400, 'Cannot connect TikTok', 'The callback has no state parameter.')
      // Checked before the state is used up, so the browser that started the flow can still finish it.
      const binding = await oauthStateBinding(ctx.store.db, q.state)
      const nonce = cookieValue(request.headers.cookie, BINDING_COOKIE)
      if (binding && !(nonce && safeEqual(sha256(nonce), binding))) return page(reply, 400, 'Cannot connect TikTok', STATE_PROBLEMS.browser)
      const consumed = await consumeOAuthState(ctx.store.db, q.state, Date.now())
      if (!consumed.ok) return page(reply, 400, 'Cannot connect TikTok', STATE_PROBLEMS[consumed.reason])
      const code = q.auth_code || q.code
      if (!code) return page(reply, 400, 'Cannot connect TikTok', 'The callback has no auth_code parameter.')
      const dest = await getDestination(ctx.store.db, ctx.store.secrets, consumed.destinationId)
      if (!dest) return page(reply, 404, 'Cannot connect TikTok', `Destination ${consumed.destinationId} no longer exists.`)
      let granted
      try {
        granted = await ctx.tiktok.exchangeAuthCode(ctx.oauth.appId, ctx.oauth.secret, code)
      } catch (err) {
        if (!(err instanceof TikTokError)) throw err
        return page(reply, 502, 'Cannot connect TikTok', `TikTok refused the authorisation code: ${err.message}`)
      }
      const advertiserIds = (granted.advertiser_ids ?? []).map(String)
      await storeDestinationToken(ctx.store.db, ctx.store.secrets, dest.id, granted.access_token, advertiserIds.length ? advertiserIds : dest.advertiserIds)
      ctx.log.info({ destination: dest.id, advertisers: advertiserIds.length, resumed: dest.status === 'paused' }, 'TikTok connected via OAuth')
      ctx.pipeline.poke()
      reply.header('set-cookie', `${BINDING_COOKIE}=; Path=/oauth/tiktok/callback; HttpOnly; SameSite=Lax; Max-Age=0`)
      return reply.redirect(`/?connected=${dest.id}`, 302)
    }
  )
}
