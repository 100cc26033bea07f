/**
 * First start with the built-in emulator: a ready native destination connected to the emulator's
 * advertiser, so that the printed curl line ends up as a member of an (emulated) TikTok audience.
 */
import { EMULATOR_CREDENTIALS } from '../emulator/index.js'
import { applyConfig } from '../config/apply.js'
import type { Store } from '../store/index.js'
import { destinationIdByName } from '../store/sql/admin-config.js'
import { markDemoDestination } from '../store/sql/config.js'
import type { TikTokClient } from '../tiktok/client.js'

export const DEMO_DESTINATION_NAME = 'TikTok Audiences (emulator)'

/**
 * The demo auto-connects every audience of the default source — until the user has a destination
 * of their own (RoutingTable: it would otherwise make a twin TikTok audience of each of theirs).
 */
export async function seedEmulatorDemo(store: Store, tiktok: TikTokClient): Promise<void> {
  await applyConfig(
    store,
    {
      destinations: [
        {
          name: DEMO_DESTINATION_NAME,
          mode: 'native',
          enabled: true,
          normalization: 'recommended',
          defaultPhoneRegion: 'US',
          accessToken: EMULATOR_CREDENTIALS.accessToken,
          advertiserIds: EMULATOR_CREDENTIALS.advertisers.map((a) => a.advertiserId),
          autoConnectAudiences: true,
          mappings: [
            { name: 'Add to Audience', action: 'addToAudience' },
            { name: 'Remove from Audience', action: 'removeFromAudience' }
          ],
          audiences: [{ key: 'first_time_shopper', name: 'First time shopper', advertiserId: EMULATOR_CREDENTIALS.advertisers[0].advertiserId }]
        }
      ]
    },
    tiktok
  )
  const id = await destinationIdByName(store.db, DEMO_DESTINATION_NAME)
  if (id !== undefined) await markDemoDestination(store.db, id)
}
