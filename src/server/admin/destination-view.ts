/** A destination as the admin API shows it: never the token itself, only whether one is connected. */
import type { Destination } from '../../store/model.js'
import { hasOwnDestination } from '../../store/sql/config.js'
import type { ServerContext } from '../context.js'
import { advertisersWithNames } from './tiktok-lookups.js'
import { S } from './validation.js'

export interface DestinationView {
  id: number
  name: string
  mode: Destination['mode']
  sourceId: number | null
  enabled: boolean
  normalization: Destination['normalization']
  defaultPhoneRegion: string | null
  consentCategory: string | null
  rememberMembers: boolean
  batchSize: number
  autoConnectAudiences: boolean
  /** The demo destination seeded on first start with the built-in emulator. */
  demo: boolean
  /** Whether it connects new audiences by itself now (the demo stops once the user has a destination of their own). */
  autoConnecting: boolean
  connected: boolean
  advertiserIds: { id: string; name: string | null }[]
  status: Destination['status']
  statusReason: string | null
  updatedAt: number
}

export async function destinationView(ctx: ServerContext, d: Destination): Promise<DestinationView> {
  return {
    id: d.id,
    name: d.name,
    mode: d.mode,
    sourceId: d.sourceId,
    enabled: d.enabled,
    normalization: d.normalization,
    defaultPhoneRegion: d.defaultPhoneRegion,
    consentCategory: d.consentCategory,
    rememberMembers: d.rememberMembers,
    batchSize: d.batchSize,
    autoConnectAudiences: d.autoConnect,
    demo: d.demo,
    // As RoutingTable decides it.
    autoConnecting: d.autoConnect && d.mode === 'native' && d.enabled && !(d.demo && (await hasOwnDestination(ctx.store.db))),
    connected: d.accessToken !== null,
    advertiserIds: await advertisersWithNames(ctx.tiktok, d.accessToken, d.advertiserIds),
    status: d.status,
    statusReason: d.statusReason,
    updatedAt: d.updatedAt
  }
}

export const destinationSchema = S.out({
  id: S.int(),
  name: S.str(),
  mode: S.str({ enum: ['native', 'legacy'] }),
  sourceId: S.nullable(S.int()),
  enabled: S.bool(),
  normalization: S.str(),
  defaultPhoneRegion: S.nullable(S.str()),
  consentCategory: S.nullable(S.str()),
  rememberMembers: S.bool(),
  batchSize: S.int(),
  autoConnectAudiences: S.bool(),
  demo: S.bool(),
  autoConnecting: S.bool(),
  connected: S.bool(),
  advertiserIds: S.arr(S.out({ id: S.str(), name: S.nullable(S.str()) })),
  status: S.str({ enum: ['active', 'paused'] }),
  statusReason: S.nullable(S.str()),
  updatedAt: S.int()
})
