/**
 * Auto-connect (SPEC §2.4): a native destination with `autoConnect` on connects every audience
 * first seen in its source's traffic — the TikTok audience is created before the audience's first
 * events are routed, so they carry its `external_audience_id` like Segment's connected audiences.
 */
import type { Logger } from 'pino'
import type { Store } from '../store/index.js'
import { awaitConnectionAudienceId, bumpConfigVersion, claimConnection, deleteConnection, setConnectionAudienceId } from '../store/sql/config.js'
import { createOrReuseAudience } from '../tiktok/audiences.js'
import type { TikTokClient } from '../tiktok/client.js'
import { audienceOf } from './event.js'
import type { RoutingTable } from './routing-table.js'

/** Creating an audience happens on the ingestion path: a slow TikTok must not hold it for long. */
const CREATE_TIMEOUT_MS = 10_000
/** How long to wait for another process that claimed the same audience to finish creating it. */
const OTHER_PROCESS_WAIT_MS = 10_000

interface Wanted {
  destinationId: number
  key: string
  name: string | null
  advertiserId: string
  token: string
}

export class AutoConnector {
  constructor(
    private readonly store: Store,
    private readonly table: RoutingTable,
    private readonly tiktok: TikTokClient,
    private readonly log?: Logger
  ) {}

  /** Whether any destination wants auto-connect (the router skips the look-ahead otherwise). */
  get active(): boolean {
    return this.table.autoConnecting()
  }

  /** Connects the audiences of `events` that auto-connecting destinations do not know yet. */
  async prepare(events: { sourceId: number; event: Record<string, unknown> }[]): Promise<void> {
    const wanted = new Map<string, Wanted>()
    for (const e of events) {
      const audience = audienceOf(e.event)
      if (!audience) continue
      for (const routed of this.table.destinationsOf(e.sourceId)) {
        const d = routed.destination
        if (!routed.autoConnects || !d.accessToken || routed.connections.get(audience.key)?.externalAudienceId) continue
        const advertiserId = d.advertiserIds[0]
        if (!advertiserId) continue
        wanted.set(`${d.id}|${audience.key}`, { destinationId: d.id, key: audience.key, name: audience.name, advertiserId, token: d.accessToken })
      }
    }
    if (wanted.size === 0) return
    const claimedElsewhere: Wanted[] = []
    let changed = false
    for (const w of wanted.values()) {
      if (!(await claimConnection(this.store.db, { destinationId: w.destinationId, audienceKey: w.key, audienceName: w.name, advertiserId: w.advertiserId }))) {
        claimedElsewhere.push(w)
        continue
      }
      try {
        const client = this.tiktok.withToken(w.token, { timeoutMs: CREATE_TIMEOUT_MS })
        // An audience of that name the advertiser already has is used, never twinned.
        const { audienceId, reused } = await createOrReuseAudience(client, w.advertiserId, w.name ?? w.key)
        await setConnectionAudienceId(this.store.db, w.destinationId, w.key, audienceId)
        changed = true
        this.log?.info({ destination: w.destinationId, audience: w.key, audienceId, reused }, 'auto-connected audience')
      } catch (err) {
        // Give the claim back so a later event retries; the events routed meanwhile fail with a clear reason.
        await deleteConnection(this.store.db, w.destinationId, w.key)
        this.log?.warn({ err, destination: w.destinationId, audience: w.key }, 'auto-connect: creating the TikTok audience failed')
      }
    }
    if (claimedElsewhere.length > 0) changed = (await this.waitForOthers(claimedElsewhere)) || changed
    if (!changed) return
    await bumpConfigVersion(this.store.db)
    await this.table.refresh(true)
  }

  /** Another process is creating these audiences (or did): wait until their ids are stored. */
  private async waitForOthers(list: Wanted[]): Promise<boolean> {
    const deadline = Date.now() + OTHER_PROCESS_WAIT_MS
    for (const w of list) await awaitConnectionAudienceId(this.store.db, w.destinationId, w.key, Math.max(0, deadline - Date.now()))
    return true
  }
}
