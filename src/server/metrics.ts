/** Prometheus metrics (SPEC §5 item 8): received, delivered, failed, retried by reason, filtered by reason, TikTok latency, queue depth. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Store } from '../store/index.js'
import type { RequestRecord } from '../store/sql/requests.js'
import { countPending } from '../store/sql/partitions.js'
import { healthGauges, type HealthGauges } from '../lifecycle/health/index.js'

export class Metrics {
  readonly registry = new Registry()
  readonly received: Counter<'source'>
  readonly rejected: Counter<'reason'>
  readonly changes: Counter<'outcome'>
  readonly retries: Counter<'reason'>
  readonly tiktokLatency: Histogram<'endpoint' | 'outcome'>
  readonly queueDepth: Gauge
  /** Set once the pipeline exists: the identifier-quality tallies it keeps. */
  qualitySource?: () => Map<number, Record<string, Record<string, number>>>
  /** Set once the pipeline exists: identifiers dropped by mappings, per destination id, `identifier|reason` → count. */
  dropSource?: () => Map<number, Map<string, number>>
  /** Set once the pipeline exists: the events it filtered per destination and reason. */
  filteredSource?: () => Map<number, Record<string, number>>

  constructor(store: Store) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: 'tiktok_audiences_' })
    this.received = new Counter({ name: 'tiktok_audiences_events_received_total', help: 'Events accepted by ingestion', labelNames: ['source'], registers })
    this.rejected = new Counter({
      name: 'tiktok_audiences_events_rejected_total',
      help: 'Requests or events refused by ingestion',
      labelNames: ['reason'],
      registers
    })
    this.changes = new Counter({
      name: 'tiktok_audiences_changes_total',
      help: 'Membership changes settled, by outcome (delivered, failed)',
      labelNames: ['outcome'],
      registers
    })
    this.retries = new Counter({ name: 'tiktok_audiences_retries_total', help: 'TikTok requests retried, by reason', labelNames: ['reason'], registers })
    this.tiktokLatency = new Histogram({
      name: 'tiktok_audiences_tiktok_request_seconds',
      help: 'Latency of TikTok API requests',
      labelNames: ['endpoint', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    })
    this.queueDepth = new Gauge({
      name: 'tiktok_audiences_queue_depth',
      help: 'Changes waiting for delivery',
      registers,
      async collect() {
        this.set(await countPending(store.db))
      }
    })
    // The counters' collect() runs with `this` bound to the counter: the sources are read through these.
    const qualitySource = () => this.qualitySource?.() ?? []
    const dropSource = () => this.dropSource?.() ?? []
    const filteredSource = () => this.filteredSource?.() ?? []
    new Counter({
      name: 'tiktok_audiences_identifiers_total',
      help: "Identifiers seen while routing, by destination, kind (email, phone, advertising_id) and outcome (hashed, prehashed, repaired, rejected, empty, disabled); besides its outcome, a change is also counted under the recommended policy's matching choices: aaid (advertising_id sent as AAID_SHA256, an Android device) and multiple (several emails or phones, each sent in a row of its own)",
      labelNames: ['destination', 'kind', 'status'],
      registers,
      collect() {
        // Tallied in the router (no label lookups per event), copied here at scrape time.
        this.reset()
        for (const [destination, tally] of qualitySource()) {
          for (const [kind, statuses] of Object.entries(tally)) {
            for (const [status, n] of Object.entries(statuses)) this.inc({ destination: String(destination), kind, status }, n)
          }
        }
      }
    })
    new Counter({
      name: 'tiktok_audiences_identifiers_dropped_total',
      help: 'Identifiers a mapping had a value for but did not send, by destination, identifier (email, phone, advertising_id) and reason (invalid, national_without_region, invalid_utf8, control_character, lone_surrogate, empty, too_many_values); counted also when the event was delivered with its other identifiers',
      labelNames: ['destination', 'identifier', 'reason'],
      registers,
      collect() {
        this.reset()
        for (const [destination, tally] of dropSource()) {
          for (const [k, n] of tally) {
            const [identifier, reason] = k.split('|')
            this.inc({ destination: String(destination), identifier, reason }, n)
          }
        }
      }
    })
    new Counter({
      name: 'tiktok_audiences_events_filtered_total',
      help: 'Events routing skipped as not for a destination (no failure, no dead letter), by destination and reason (audience_not_connected, integrations, send_track_off, send_identify_off, consent_withdrawn)',
      labelNames: ['destination', 'reason'],
      registers,
      collect() {
        // Tallied in the router at commit, copied here at scrape time.
        this.reset()
        for (const [destination, tally] of filteredSource()) {
          for (const [reason, n] of Object.entries(tally)) this.inc({ destination: String(destination), reason }, n)
        }
      }
    })
    this.healthGauges(store, registers)
  }

  /**
   * Audience health (src/lifecycle/health): read from the database at scrape time, so every process
   * reports the latest round whichever process polled it. One read serves both gauges of a scrape.
   */
  private healthGauges(store: Store, registers: Registry[]): void {
    let pending: Promise<HealthGauges> | undefined
    const read = () => (pending ??= healthGauges(store).finally(() => setTimeout(() => (pending = undefined), 0)))
    new Gauge({
      name: 'tiktok_audience_matched_users',
      help: "TikTok's cover_num (matched users) of each connected audience at its last health read",
      labelNames: ['destination', 'audience', 'advertiser_id'],
      registers,
      async collect() {
        this.reset()
        for (const g of (await read()).matched) this.set(g.labels, g.value)
      }
    })
    new Gauge({
      name: 'tiktok_audience_warning',
      help: '1 while an audience health warning holds: reason small (below 1,000 matched users, not targetable) or expiring (expires within 30 days); 0 otherwise',
      labelNames: ['destination', 'audience', 'advertiser_id', 'reason'],
      registers,
      async collect() {
        this.reset()
        for (const g of (await read()).warnings) this.set(g.labels, g.value)
      }
    })
  }

  /** Hooked to the deliverer: one call per TikTok request it made. */
  observeRequest(r: RequestRecord): void {
    const endpoint = r.kind === 'create_audience' ? '/segment/audience/' : '/segment/mapping/'
    this.tiktokLatency.observe({ endpoint, outcome: r.outcome }, r.durationMs / 1000)
    if (r.outcome === 'delivered') this.changes.inc({ outcome: 'delivered' }, r.rowCount)
    else if (r.outcome === 'failed') this.changes.inc({ outcome: 'failed' }, r.rowCount)
    else if (r.outcome === 'retry') this.retries.inc({ reason: r.code !== null ? String(r.code) : r.httpStatus ? `http_${r.httpStatus}` : 'network' })
  }
}
