/**
 * The console's client of the admin API. Requests carry the session cookie (same origin) and, for
 * writes, the CSRF token received at sign-in. Errors keep the API's `field`, so forms can show
 * a message next to the field it concerns.
 */

// Response types shared with the server (type-only: nothing of the server is bundled).
import type { Connection as StoredConnection, ConnectionTarget, Mapping as StoredMapping, Source } from '../store/model.js'
import type { Stats } from '../store/sql/admin-stats.js'
import type { TestResult } from '../server/admin/test-mapping.js'

import type { DestinationView } from '../server/admin/destination-view.js'
import type { HealthRead as StoredHealthRead, HealthWarning } from '../lifecycle/health/index.js'
import type { MigrationResult } from '../lifecycle/migrate/index.js'
import type { SyncRun, SyncView } from '../warehouse/index.js'

export type { Source, Stats, TestResult, MigrationResult, SyncRun }
/** A destination as GET /api/destinations answers it. */
export type Destination = DestinationView
/** GET /api/syncs (src/server/admin/syncs.ts): a warehouse sync and its last runs, newest first. */
export type WarehouseSync = SyncView
/** One recorded health read of an audience (GET /api/audience-health, …/health/history). */
export type HealthRead = Omit<StoredHealthRead, 'destinationId' | 'audienceKey' | 'advertiserId' | 'externalAudienceId'> & { warnings: HealthWarning[] }
/** A mapping as the admin API returns it: the stored mapping and any trigger warnings. */
export type Mapping = StoredMapping & { warnings?: string[] }

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | undefined,
    readonly body: unknown
  ) {
    super(message)
  }
}

let csrfToken = ''
let onSignedOut: () => void = () => {}

export function setCsrfToken(token: string): void {
  csrfToken = token
}
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'x-requested-with': 'tiktok-audiences-console' }
  if (csrfToken) headers['x-csrf-token'] = csrfToken
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' })
  if (response.status === 204) return undefined as T
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = text ? JSON.parse(text) : null
  } catch {
    /* not JSON: keep the text */
  }
  if (!response.ok) {
    if (response.status === 401 && path !== '/session') onSignedOut()
    const o = (parsed && typeof parsed === 'object' ? parsed : {}) as { error?: string; message?: string; field?: string }
    throw new ApiError(response.status, o.error ?? o.message ?? `${method} ${path} answered HTTP ${response.status}`, o.field || undefined, parsed)
  }
  return parsed as T
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err))

// ---- shapes of the admin API (src/server/admin/**) ----

export interface FieldDefinition {
  key: string
  label: string
  description: string
  type: 'string' | 'boolean' | 'number' | 'integer' | 'object' | 'datetime' | string
  multiple: boolean
  required: boolean
  hidden: boolean
  dynamic: boolean
  default?: unknown
  choices?: { label: string; value: string }[] | string[]
}

export interface ActionDefinition {
  key: string
  title: string
  description: string
  defaultTrigger: string
  kind: string
  flow: 'native' | 'legacy' | null
  fields: FieldDefinition[]
}

export interface ActionCatalog {
  destination: { name: string; description: string; audienceFields: Record<string, { label: string; description: string }> }
  actions: ActionDefinition[]
}

/** An audience connection as the Audiences screen lists it: the stored one and its destination's state. */
export interface Connection extends Omit<StoredConnection, 'id' | 'targets'> {
  /** Every advertiser the audience goes to (fan-out), the first being advertiserId. */
  advertiserIds: string[]
  targets: (ConnectionTarget & { state: 'connected' | 'failed' | 'pending' })[]
  destinationName: string
  mode: 'native' | 'legacy'
  status: 'connected' | 'paused' | 'disabled'
}

export interface Audience {
  key: string
  name: string | null
  sourceId: number | null
  firstSeenAt: number | null
  lastSeenAt: number | null
  seen: boolean
  destinations: Connection[]
}

export interface AudienceHealth {
  audience_id: string
  name: string
  cover_num: number
  is_valid: boolean
  is_expiring: boolean
  expired_time: string | null
  warnings: string[]
  note: string
}

export interface DeliveryReport {
  status: string
  statusReason: string | null
  from: number
  to: number
  bucketMs: number
  /** delivered, failed, retried, filtered: over the period; pending and retrying: now. */
  totals: { delivered: number; failed: number; pending: number; retrying: number; retried: number; filtered: number }
  p95LatencyMs: number | null
  requests: number
  buckets: { start: number; delivered: number; failed: number; pending: number; retried: number; filtered: number }[]
  retried: {
    errorCode: string | null
    reason: string | null
    retries: number
    changes: number
    lastAt: number
    then: { delivered: number; failed: number; paused: number; retrying: number }
  }[]
  /** Events skipped as not for this destination, by reason. */
  filtered: { reason: string; count: number; description: string }[]
  errors: {
    reason: string | null
    errorCode: string | null
    status: string
    count: number
    lastAt: number
    sample: { changeId: number | null; received: unknown; request: unknown; response: { httpStatus: number | null; body: unknown } | null }
  }[] /** Values a mapping had but did not send (also of delivered events), most first. */
  identifiersDropped: { identifier: string; reason: string; count: number }[]
}

export interface DeadLetter {
  id: number
  action: string
  error: string | null
  errorCode: string | null
  attempts: number
  createdAt: number
  replayable: boolean
  /** Set when a later change of the same identifiers was delivered (replaying would undo it). */
  resolvedBy: string | null
}

export interface ConsoleInfo {
  emulator: boolean
  oauthConfigured: boolean
  tiktokApiUrl: string
  emulatorUrl: string | null
}

/** GET /api/sources/{id}/segment: what to paste into Segment's Webhook Audiences / Webhooks (Actions). */
export interface SegmentConnect {
  sourceId: number
  writeKey: string | null
  webhookUrl: string | null
  createAudienceUrl: string | null
  getAudienceUrl: string | null
  sharedSecretSet: boolean
  extrasExample: string
  destinations: { name: string; advertiserIds: string[] }[]
}

export interface AudienceHealthSummary {
  audiences: (HealthRead & { destinationId: number; destinationName: string | null; audienceKey: string; advertiserId: string; externalAudienceId: string })[]
  warnings: number
}
