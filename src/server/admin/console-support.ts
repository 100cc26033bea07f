/**
 * What the console needs beyond the admin API: whether TikTok is the built-in emulator (the
 * console labels it everywhere) and whether OAuth can run. Admin-only like the rest of /api.
 */
import type { FastifyPluginAsync } from 'fastify'
import { requireAdmin } from '../admin-auth.js'
import type { ServerContext } from '../context.js'

export const consoleSupportPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireAdmin(ctx))
  app.get('/info', async () => ({
    emulator: ctx.emulator,
    oauthConfigured: Boolean(ctx.oauth.appId && ctx.oauth.secret),
    tiktokApiUrl: ctx.tiktok.baseUrl,
    emulatorUrl: ctx.emulator ? `${ctx.publicUrl}/emulator` : null
  }))
}
