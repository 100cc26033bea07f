/**
 * The destination's six actions and presets as data, straight from the definition: what the
 * console generates its mapping forms from. And "Load Sample Event" per action.
 */
import type { FastifyPluginAsync } from 'fastify'
import { ACTION_KEYS, isActionKey, sampleEvent, tiktokAudiences } from '../../destination/index.js'
import { notFound } from './errors.js'

export function actionCatalog() {
  return {
    destination: {
      name: tiktokAudiences.name,
      slug: tiktokAudiences.slug,
      description: tiktokAudiences.description,
      audienceFields: tiktokAudiences.audienceFields
    },
    actions: ACTION_KEYS.map((key) => {
      const a = tiktokAudiences.actions[key]
      return {
        key,
        title: a.title,
        description: a.description,
        defaultTrigger: a.defaultSubscription,
        kind: a.kind,
        flow: a.flow ?? null,
        fields: Object.entries(a.fields).map(([fieldKey, f]) => ({
          key: fieldKey,
          label: f.label,
          description: f.description,
          type: f.type,
          multiple: f.multiple ?? false,
          required: f.required ?? false,
          hidden: f.hidden ?? false,
          dynamic: f.dynamic ?? false,
          ...(f.default !== undefined ? { default: f.default } : {}),
          ...(f.choices ? { choices: f.choices } : {})
        }))
      }
    }),
    presets: tiktokAudiences.presets
  }
}

export const actionRoutes: FastifyPluginAsync = async (app) => {
  const catalog = actionCatalog()
  app.get('/actions', async () => catalog)
  app.get<{ Params: { action: string } }>('/actions/:action/sample-event', async (request) => {
    if (!isActionKey(request.params.action)) throw notFound(`action "${request.params.action}"`)
    return sampleEvent(request.params.action)
  })
}
