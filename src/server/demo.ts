/**
 * First start with the built-in emulator: a ready native destination connected to the emulator's
 * advertiser, so that the printed curl line ends up as a member of an (emulated) TikTok audience.
 */
import { EMULATOR_CREDENTIALS } from '../emulator/index.js'
import { applyConfig } from '../config/apply.js'
import type { Store } from '../store/index.js'
import type { TikTokClient } from '../tiktok/client.js'

export async function seedEmulatorDemo(store: Store, tiktok: TikTokClient): Promise<void> {
  await applyConfig(
    store,
    {
      destinations: [
        {
          name: 'TikTok Audiences (emulator)',
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
}
