/**
 * What the router needs, loaded once and reloaded when the configuration changes: per source its
 * destinations, their compiled mappings and audience connections.
 */
import { compileMapping, type CompiledMapping } from '../destination/mapping.js'
import type { Store } from '../store/index.js'
import { configVersion, listConnections, listDestinations, listMappings } from '../store/sql/config.js'
import type { Connection, Destination, Mapping } from '../store/model.js'
import { must } from '../util/must.js'

/** The stored configuration the table is built from: plain data (a route worker gets a copy). */
export interface RoutingSnapshot {
  version: number
  destinations: Destination[]
  mappings: Mapping[]
  connections: Connection[]
}

export interface RoutedMapping {
  id: number
  name: string
  compiled?: CompiledMapping
  /** Set when a stored mapping no longer compiles; its events fail with this message. */
  error?: string
}

export interface RoutedDestination {
  destination: Destination
  mappings: RoutedMapping[]
  /** By audience key: the audiences connected to this destination (route-event.ts's rule). */
  connections: Map<string, Connection>
  /**
   * Whether it connects new audiences by itself now: native, enabled, `autoConnect` on — and not
   * the demo destination once the user has a destination of their own.
   */
  autoConnects: boolean
}

export class RoutingTable {
  private version = -1
  private bySource = new Map<number, RoutedDestination[]>()
  private byId = new Map<number, RoutedDestination>()
  private names = new Set<string>()

  constructor(private readonly store: Store | undefined) {}

  private loaded: RoutingSnapshot | undefined

  /** Reloads when the stored configuration changed since the last load; cheap otherwise. */
  async refresh(force = false): Promise<void> {
    const v = await this.currentVersion()
    if (!force && v === this.version) return
    const { db, secrets } = must(this.store, "the routing table's store (a snapshot-only table has none to refresh from)")
    const [destinations, mappings, connections] = await Promise.all([listDestinations(db, secrets), listMappings(db), listConnections(db)])
    this.load({ version: v, destinations, mappings, connections })
  }

  /**
   * Set when every ingestion commit checks the version the events were routed with against the
   * stored one (PostgreSQL, see Router.commit), and routes again when it changed: ingestion then
   * routes with the table as loaded, without a read per request.
   */
  checkedAtCommit = false

  /** Ingestion's refresh: none when the commit checks the version (checkedAtCommit) and a table is loaded. */
  async refreshForRouting(): Promise<void> {
    if (this.checkedAtCommit && this.loaded) return
    await this.refresh()
  }

  private checking: Promise<number> | undefined
  private nextCheck: Promise<number> | undefined

  /**
   * The stored configuration version, read after this call began. Callers arriving while a read is
   * in flight (it may have started before a change they must see) share the next one: one read per
   * round trip, not one per request — a query per request on PostgreSQL otherwise.
   */
  private currentVersion(): Promise<number> {
    if (!this.checking) {
      const read = configVersion(must(this.store, "the routing table's store").db).finally(() => {
        if (this.checking === read) this.checking = undefined
      })
      this.checking = read
      return read
    }
    return (this.nextCheck ??= this.checking
      .catch(() => undefined)
      .then(() => {
        this.nextCheck = undefined
        // A read started since then began after these callers arrived: theirs to share.
        return this.checking ?? this.currentVersion()
      }))
  }

  /** The configuration as last loaded. */
  snapshot(): RoutingSnapshot {
    if (!this.loaded) throw new Error('the routing table is not loaded yet')
    return this.loaded
  }

  /** A table built once from a snapshot (a route worker's: it never reloads). */
  static fromSnapshot(snapshot: RoutingSnapshot): RoutingTable {
    const t = new RoutingTable(undefined)
    t.load(snapshot)
    return t
  }

  private load(snapshot: RoutingSnapshot): void {
    const { destinations, mappings, connections } = snapshot
    const bySource = new Map<number, RoutedDestination[]>()
    const byId = new Map<number, RoutedDestination>()
    const ownDestination = destinations.some((d) => !d.demo)
    for (const d of destinations) {
      const autoConnects = d.autoConnect && d.mode === 'native' && d.enabled && !(d.demo && ownDestination)
      const routed: RoutedDestination = { destination: d, mappings: [], connections: new Map(), autoConnects }
      byId.set(d.id, routed)
      if (d.sourceId === null) continue
      const list = bySource.get(d.sourceId) ?? []
      list.push(routed)
      bySource.set(d.sourceId, list)
    }
    for (const m of mappings) {
      const routed = byId.get(m.destinationId)
      if (!routed || !m.enabled) continue
      try {
        routed.mappings.push({ id: m.id, name: m.name, compiled: compileMapping({ action: m.action, trigger: m.trigger, mapping: m.mapping }) })
      } catch (err) {
        routed.mappings.push({ id: m.id, name: m.name, error: `mapping "${m.name}" is invalid: ${(err as Error).message}` })
      }
    }
    for (const c of connections) byId.get(c.destinationId)?.connections.set(c.audienceKey, c)
    this.bySource = bySource
    this.byId = byId
    this.names = new Set(destinations.map((d) => d.name))
    this.version = snapshot.version
    this.loaded = snapshot
  }

  /** The configuration version last loaded (-1: none yet). */
  get loadedVersion(): number {
    return this.version
  }

  destinationsOf(sourceId: number): RoutedDestination[] {
    return this.bySource.get(sourceId) ?? []
  }

  /** Whether some destination connects new audiences by itself. */
  autoConnecting(): boolean {
    for (const r of this.byId.values()) if (r.autoConnects) return true
    return false
  }

  /** Whether any of `names` is the name of one of our destinations. */
  namesAnyDestination(names: string[]): boolean {
    for (const n of names) if (this.names.has(n)) return true
    return false
  }

  destination(id: number): RoutedDestination | undefined {
    return this.byId.get(id)
  }
}
