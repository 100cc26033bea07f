/**
 * `tiktok-audiences report`: the identifier-quality dry run (SPEC §5 item 4). Runs every event of
 * an NDJSON file through each destination's connections and mappings exactly as the router would —
 * and sends nothing: how many events had a usable email/phone/mobile id, how many were pre-hashed,
 * repaired or rejected (and why), what failed, and the exact requests that would be sent.
 */
import { buildCreateAudienceBody, buildMappingBody } from '../destination/request-bodies.js'
import { membershipRows, type CreateAudienceChange, type MembershipChange } from '../destination/changes.js'
import { DEFAULT_PHONE_REGION, type IdentifierKind, type IdentifierReport } from '../destination/identifiers.js'
import { compileMapping } from '../destination/mapping.js'
import type { DestinationConfig } from '../config/schema.js'
import { audienceOf } from '../pipeline/event.js'
import { choicesOf } from '../pipeline/quality.js'
import { queueKeys, routeEvent, type RouteTarget } from '../pipeline/route-event.js'
import type { RoutedMapping } from '../pipeline/routing-table.js'
import { CONNECTION_DEFAULTS, DESTINATION_DEFAULTS } from '../util/defaults.js'
import { at } from '../util/array.js'
import { readEvents } from './ndjson.js'
import { loadConfigForCli, printError } from './one-shot.js'

/** Stands in for a native audience that `send`/`serve` would create on TikTok when connecting. */
const UNCREATED = '(created on connect)'
const SAMPLE_ROWS = 3

interface DestinationReport {
  destination: string
  normalization: string
  matched: Record<string, number>
  changes: { add: number; delete: number; create: number }
  failed: Record<string, number>
  /** Events skipped as not for this destination, by reason (README "Which destinations an event reaches"). */
  filtered: Record<string, number>
  /** By status, and by matching choice besides it (`aaid`, `multiple`: README "Identifiers"). */
  identifiers: Record<IdentifierKind, Record<string, number>>
  /** Further values sent (several emails or phones per person), each one more row. */
  moreValues: Partial<Record<IdentifierKind, number>>
  reasons: Record<string, number>
  /** Per queue (audience × kind): rows, requests at the batch size, and the first request's body (cut to a few rows). */
  requests: { audience: string; kind: string; rows: number; requests: number; sample: unknown }[]
}

function targetFor(d: DestinationConfig, problems: string[], at: string): RouteTarget {
  const mappings: RoutedMapping[] = (d.mappings ?? []).flatMap((m, i) => {
    if (m.enabled === false) return []
    try {
      return [{ id: i, name: m.name, compiled: compileMapping({ action: m.action, trigger: m.trigger, mapping: m.mapping }) }]
    } catch (err) {
      problems.push(`${at}.mappings[${i}] ("${m.name}"): ${(err as Error).message}`)
      return []
    }
  })
  const mode = d.mode ?? DESTINATION_DEFAULTS.mode
  const connections = new Map(
    (d.audiences ?? []).map((a) => [
      a.key,
      {
        sendTrack: a.sendTrack ?? CONNECTION_DEFAULTS.sendTrack,
        sendIdentify: a.sendIdentify ?? CONNECTION_DEFAULTS.sendIdentify,
        externalAudienceId: a.externalAudienceId !== undefined ? String(a.externalAudienceId) : mode === 'native' ? UNCREATED : null,
        advertiserId: a.advertiserId !== undefined ? String(a.advertiserId) : d.advertiserIds?.[0] !== undefined ? String(d.advertiserIds[0]) : null
      }
    ])
  )
  return {
    autoConnects: mode === 'native' && (d.enabled ?? true) && (d.autoConnectAudiences ?? DESTINATION_DEFAULTS.autoConnectAudiences),
    destination: {
      name: d.name,
      enabled: d.enabled ?? true,
      mode,
      // A dry run needs no token; say so instead of failing every event.
      accessToken: d.accessToken?.trim() || 'dry-run',
      advertiserIds: (d.advertiserIds ?? []).map(String),
      normalization: d.normalization ?? DESTINATION_DEFAULTS.normalization,
      // As applying this config to a new destination would set it (config/apply.ts).
      defaultPhoneRegion: d.defaultPhoneRegion === undefined ? DEFAULT_PHONE_REGION : d.defaultPhoneRegion,
      consentCategory: d.consentCategory?.trim() || null,
      rememberMembers: d.rememberMembers ?? false
    },
    mappings,
    connections
  }
}

export async function runReport(opts: { config: string; events: string; json?: boolean }): Promise<number> {
  const err = printError
  const config = loadConfigForCli(opts.config)
  if (!config) return 2
  const problems: string[] = []
  const destinations = config.destinations ?? []
  const targets = destinations.map((d, i) => targetFor(d, problems, `destinations[${i}]`))
  const names = new Set(destinations.map((d) => d.name))
  const isOurs = (list: string[]) => list.some((n) => names.has(n))
  const reports: DestinationReport[] = destinations.map((d) => ({
    destination: d.name,
    normalization: d.normalization ?? DESTINATION_DEFAULTS.normalization,
    matched: {},
    changes: { add: 0, delete: 0, create: 0 },
    failed: {},
    filtered: {},
    identifiers: { email: {}, phone: {}, advertising_id: {} },
    moreValues: {},
    reasons: {},
    requests: []
  }))
  // Per destination: its routing target, its report and its queued changes by queue key.
  const runs = destinations.map((d, i) => ({
    destination: d,
    target: at(targets, i),
    report: at(reports, i),
    queue: new Map<string, (MembershipChange | CreateAudienceChange)[]>()
  }))
  let lines = 0
  let invalid = 0

  for await (const item of readEvents(opts.events)) {
    lines++
    if (item.problem !== undefined) {
      invalid++
      err(item.problem)
      continue
    }
    const event = item.event
    const audience = audienceOf(event)?.key
    runs.forEach(({ target, report: r, queue }, t) => {
      const routed = routeEvent(event, audience, target, isOurs)
      if (routed.filtered) r.filtered[routed.filtered] = (r.filtered[routed.filtered] ?? 0) + 1
      for (const o of routed.outcomes) {
        r.matched[o.mapping.name] = (r.matched[o.mapping.name] ?? 0) + 1
        const quality: IdentifierReport | undefined = o.ok ? (o.change.kind === 'membership' ? o.change.quality : undefined) : o.quality
        if (quality) {
          for (const kind of Object.keys(quality) as IdentifierKind[]) {
            const q = quality[kind]
            r.identifiers[kind][q.status] = (r.identifiers[kind][q.status] ?? 0) + 1
            // A person's further values (several emails or phones): their own repairs and rejections.
            for (const v of [q, ...(q.more ?? [])])
              if (v.reason) r.reasons[`${kind} ${v.status}: ${v.reason}`] = (r.reasons[`${kind} ${v.status}: ${v.reason}`] ?? 0) + 1
            const sentMore = q.more?.filter((v) => v.hash !== null).length ?? 0
            if (sentMore > 0) r.moreValues[kind] = (r.moreValues[kind] ?? 0) + sentMore
          }
          // Matching choices (`aaid`, `multiple`) count besides the status, as in /metrics.
          for (const [kind, choice] of choicesOf(quality)) r.identifiers[kind][choice] = (r.identifiers[kind][choice] ?? 0) + 1
        }
        if (!o.ok) {
          r.failed[o.message] = (r.failed[o.message] ?? 0) + 1
          continue
        }
        r.changes[o.change.kind === 'create' ? 'create' : o.change.action]++
        const { partitionKey, batchKey } = queueKeys(t, o.change)
        const key = `${partitionKey}#${batchKey}`
        const q = queue.get(key) ?? []
        if (o.change.kind === 'membership') q.push(...membershipRows(o.change))
        else q.push(o.change)
        queue.set(key, q)
      }
    })
  }

  for (const { destination, report, queue } of runs) {
    const batchSize = destination.batchSize ?? DESTINATION_DEFAULTS.batchSize
    for (const [key, changes] of queue) {
      const first = at(changes, 0)
      const kind = key.slice(key.indexOf('#') + 1)
      if (first.kind === 'create') {
        report.requests.push({
          audience: `create for ${first.advertiserId}`,
          kind,
          rows: changes.length,
          requests: changes.length,
          sample: buildCreateAudienceBody(first)
        })
        continue
      }
      const body = buildMappingBody(changes.slice(0, SAMPLE_ROWS) as MembershipChange[])
      report.requests.push({ audience: first.audienceId, kind, rows: changes.length, requests: Math.ceil(changes.length / batchSize), sample: body })
    }
  }

  const result = { events: lines, invalid, configProblems: problems, destinations: reports }
  for (const p of problems) err(`config: ${p}`)
  if (opts.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  } else {
    const out: string[] = [`${lines} events read, ${invalid} invalid (nothing was sent: dry run)`]
    for (const r of reports) {
      out.push('', `Destination "${r.destination}" (normalisation: ${r.normalization})`)
      out.push(
        `  mappings matched: ${
          Object.entries(r.matched)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'none'
        }`
      )
      out.push(`  changes: ${r.changes.add} add, ${r.changes.delete} delete${r.changes.create ? `, ${r.changes.create} create audience` : ''}`)
      for (const kind of ['email', 'phone', 'advertising_id'] as IdentifierKind[]) {
        const counts = Object.entries(r.identifiers[kind])
          .map(([s, n]) => `${n} ${s}`)
          .join(', ')
        const more = r.moreValues[kind] ? ` (${r.moreValues[kind]} further value(s) sent, a row each)` : ''
        if (counts) out.push(`  ${kind}: ${counts}${more}`)
      }
      for (const [reason, n] of Object.entries(r.reasons)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10))
        out.push(`    ${n} × ${reason}`)
      for (const [message, n] of Object.entries(r.failed)) out.push(`  failed: ${n} × ${message}`)
      for (const [reason, n] of Object.entries(r.filtered)) out.push(`  filtered (not for this destination): ${n} × ${reason}`)
      for (const q of r.requests) {
        out.push(`  would send ${q.requests} request(s), ${q.rows} row(s): audience ${q.audience}, ${q.kind}`)
        out.push(`    first request: ${JSON.stringify(q.sample)}`)
      }
    }
    process.stdout.write(out.join('\n') + '\n')
  }
  return invalid > 0 || problems.length > 0 ? 1 : 0
}
