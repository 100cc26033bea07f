/**
 * The emulator's stand-in for TikTok's advertiser consent page (`/portal/auth`, reference §8.1).
 * It says plainly that it is an emulator. Approving redirects to `redirect_uri` with `auth_code`, `code`
 * (same value) and `state`; denying redirects with `error=access_denied`. `approve=1` skips the page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { pathWithoutPrefix, runFault } from './http.js'
import type { EmulatorAdvertiser, EmulatorApp, EmulatorState } from './state.js'

export const CONSENT_PATH = '/portal/auth'

interface ConsentParams {
  appId: string
  state: string | undefined
  redirectUri: string
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #161823; }
  .banner { background: #fff3cd; border: 1px solid #e0b000; padding: .5rem .75rem; border-radius: 4px; }
  ul { padding-left: 1.25rem; }
  .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
  button { font-size: 1rem; padding: .5rem 1.25rem; border-radius: 4px; border: 1px solid #888; cursor: pointer; }
  button[value="approve"] { background: #fe2c55; border-color: #fe2c55; color: #fff; }
  button:focus-visible { outline: 3px solid #1e6fd9; outline-offset: 2px; }
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`
}

export function renderConsentPage(app: EmulatorApp, advertisers: EmulatorAdvertiser[], params: ConsentParams): string {
  const items = advertisers.map((a) => `<li>${escapeHtml(a.name)} <small>(advertiser ID ${escapeHtml(a.advertiserId)})</small></li>`).join('\n    ')
  const hidden = (name: string, value: string | undefined) => (value === undefined ? '' : `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
  return page(
    'TikTok emulator — authorise app',
    `<p class="banner" role="note"><strong>TikTok emulator.</strong> This page is served by a local emulator of the TikTok
  Business API, not by TikTok. Nothing here touches a real TikTok account.</p>
  <h1>TikTok emulator: authorise ${escapeHtml(app.name)}</h1>
  <p>The app <strong>${escapeHtml(app.name)}</strong> (app ID <code>${escapeHtml(app.appId)}</code>) asks for
  Audience Management access to these advertiser accounts:</p>
  <ul>
    ${items}
  </ul>
  <p>You will be sent back to <code>${escapeHtml(params.redirectUri)}</code>.</p>
  <form method="post">
    ${hidden('app_id', params.appId)}
    ${hidden('state', params.state)}
    ${hidden('redirect_uri', params.redirectUri)}
    <div class="actions">
      <button type="submit" name="decision" value="approve">Approve</button>
      <button type="submit" name="decision" value="deny">Deny</button>
    </div>
  </form>`
  )
}

export function renderConsentError(message: string): string {
  return page(
    'TikTok emulator — authorisation error',
    `<p class="banner" role="note"><strong>TikTok emulator.</strong> Local emulator, not TikTok.</p>
  <h1>TikTok emulator: cannot authorise</h1>
  <p role="alert">${escapeHtml(message)}</p>`
  )
}

function field(source: unknown, name: string): string | undefined {
  if (typeof source !== 'object' || source === null) return undefined
  const v = (source as Record<string, unknown>)[name]
  const first = Array.isArray(v) ? v[0] : v
  return typeof first === 'string' ? first : undefined
}

/** A form field, falling back to the query string (the form posts back to the page's own URL). */
function param(request: FastifyRequest, name: string): string | undefined {
  return field(request.body, name) ?? field(request.query, name)
}

function redirectWith(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v)
  return url.toString()
}

function parseRedirectUri(raw: string | undefined): string | undefined {
  if (!raw) return undefined
  try {
    const url = new URL(raw)
    return url.protocol === 'http:' || url.protocol === 'https:' ? raw : undefined
  } catch {
    return undefined
  }
}

export function registerConsentRoutes(app: FastifyInstance, state: EmulatorState, prefix: string, withSlashlessAliases: boolean): void {
  if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)))
    })
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const fault = state.faults.size > 0 ? state.faults.take(request.method, pathWithoutPrefix(request, prefix)) : undefined
    if (fault && (await runFault(fault, request, reply, state, CONSENT_PATH))) return reply

    const appId = param(request, 'app_id')
    const emulatorApp = appId ? state.apps.get(appId) : undefined
    if (!appId || !emulatorApp) {
      return reply
        .code(400)
        .type('text/html; charset=utf-8')
        .send(renderConsentError(`Unknown app_id ${JSON.stringify(appId ?? '')}.`))
    }
    const redirectUri = parseRedirectUri(param(request, 'redirect_uri'))
    if (!redirectUri) {
      return reply.code(400).type('text/html; charset=utf-8').send(renderConsentError('redirect_uri must be an absolute http(s) URL.'))
    }
    const oauthState = param(request, 'state')
    const decision =
      request.method === 'POST'
        ? param(request, 'decision')
        : param(request, 'approve') === '1'
          ? 'approve'
          : param(request, 'deny') === '1'
            ? 'deny'
            : undefined

    // Approval grants every advertiser the emulator knows, like a user ticking all accounts.
    const advertisers = [...state.advertisers.values()]
    if (decision === 'approve') {
      const code = state.issueAuthCode(
        emulatorApp.appId,
        advertisers.map((a) => a.advertiserId)
      )
      return reply.redirect(redirectWith(redirectUri, { auth_code: code, code, state: oauthState }), 302)
    }
    if (decision === 'deny') {
      return reply.redirect(redirectWith(redirectUri, { error: 'access_denied', error_description: 'The user denied access.', state: oauthState }), 302)
    }
    return reply
      .code(200)
      .type('text/html; charset=utf-8')
      .send(renderConsentPage(emulatorApp, advertisers, { appId, state: oauthState, redirectUri }))
  }

  const urls = withSlashlessAliases ? [CONSENT_PATH, CONSENT_PATH + '/'] : [CONSENT_PATH]
  for (const url of urls) app.route({ method: ['GET', 'POST'], url, handler })
}
