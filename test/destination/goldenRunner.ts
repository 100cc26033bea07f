/**
 * Runs a golden vector (test/golden/vectors.json) through this product's destination layer under
 * the `segment` policy: compileMapping → map → toChange → group into requests → request bodies.
 */
import {
  PayloadValidationError,
  buildCreateAudienceBody,
  buildMappingBody,
  compileMapping,
  groupMembershipChanges,
  toChange,
  type MembershipChange
} from '../../src/destination/index.js'

export interface GoldenVector {
  name: string
  source: string
  action: string
  invocation: 'testAction' | 'testBatchAction'
  settings: { advertiser_ids?: string[] }
  mapping: Record<string, unknown>
  policy: 'segment'
  events: Array<Record<string, any>>
  expected: {
    requests: Array<{ path: string; body: unknown }>
    error?: string
    multistatus?: Array<{ status: number; error?: string }>
  }
  deliberateDifference?: string
  /** For deliberate differences: what this product sends instead. */
  ours?: { requests: Array<{ path: string; body: unknown }>; errors: Array<string | null> }
}

export interface GoldenOutcome {
  requests: Array<{ path: string; body: unknown }>
  /** Per event: the error message, or null when the event became a change. */
  errors: Array<string | null>
}

const LEGACY = new Set(['addUser', 'removeUser', 'createAudience'])

export function runGoldenVector(vector: GoldenVector): GoldenOutcome {
  const compiled = compileMapping({ action: vector.action, mapping: vector.mapping })
  const settings = {
    mode: LEGACY.has(vector.action) ? ('legacy' as const) : ('native' as const),
    advertiserIds: vector.settings.advertiser_ids ?? [],
    normalization: 'segment' as const
  }
  const errors: Array<string | null> = []
  const memberships: MembershipChange[] = []
  const requests: GoldenOutcome['requests'] = []
  for (const event of vector.events) {
    let payload
    try {
      payload = compiled.map(event)
    } catch (err) {
      if (!(err instanceof PayloadValidationError)) throw err
      errors.push(err.message)
      continue
    }
    const change = toChange(compiled, payload, { event, settings, audienceSettings: event.context?.personas?.audience_settings })
    if (change.kind === 'error') {
      errors.push(change.message)
    } else if (change.kind === 'create') {
      errors.push(null)
      requests.push({ path: '/open_api/v1.3/segment/audience/', body: buildCreateAudienceBody(change) })
    } else {
      errors.push(null)
      memberships.push(change)
    }
  }
  for (const group of groupMembershipChanges(memberships)) {
    requests.push({ path: '/open_api/v1.3/segment/mapping/', body: buildMappingBody(group) })
  }
  return { requests, errors }
}

/** The reference's outcome in the same per-event shape. */
export function referenceOutcome(vector: GoldenVector): GoldenOutcome {
  const { expected } = vector
  const errors = vector.events.map((_, i) => (expected.error !== undefined ? expected.error : (expected.multistatus?.[i]?.error ?? null)))
  return { requests: expected.requests, errors }
}
