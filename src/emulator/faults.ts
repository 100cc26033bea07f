/**
 * Fault injection: rules that make matching requests fail (TikTok code, HTTP status) and/or answer late.
 * A request hit by a failing rule is never applied to the emulator's state.
 */
import { STATUS_CODES } from 'node:http'

export interface FaultRule {
  /** Substring of the request path (without prefix), e.g. `/segment/mapping/`; absent matches every path. */
  path?: string
  /** HTTP method to match (case-insensitive); absent matches any. */
  method?: string
  /**
   * Only requests for this advertiser (`advertiser_id` or one of `advertiser_ids`, in the body or the
   * query): makes one advertiser fail while the others are served; absent matches any.
   */
  advertiserId?: string
  /** Answer HTTP 200 with this TikTok code. */
  code?: number
  /** Overrides the realistic message that goes with `code`. */
  message?: string
  /** Answer with this HTTP status; 5xx statuses get a non-JSON (HTML) body like a gateway would send. */
  httpStatus?: number
  /** Delay before answering; alone it only slows the request down, which is then handled normally. */
  latencyMs?: number
  /** Close the connection without answering (a reset, as a failing load balancer does); nothing is applied. */
  reset?: boolean
  /** Number of requests the rule hits before it is spent; absent = unlimited. */
  count?: number
  /** Probability (0–1) that a matching request is hit; default 1. */
  rate?: number
}

export interface ActiveFaultRule extends FaultRule {
  id: number
  /** Requests hit so far. */
  hits: number
  /** Hits left before the rule is spent; undefined = unlimited. */
  remaining?: number
}

/** Parses the `rules` array of `POST /_emulator/faults`; returns an error message for the first bad field. */
export function parseFaultRules(input: unknown): FaultRule[] | string {
  if (!Array.isArray(input)) return 'rules must be an array'
  const rules: FaultRule[] = []
  for (let i = 0; i < input.length; i++) {
    const raw: unknown = input[i]
    const where = `rules[${i}]`
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `${where} must be an object`
    const r = raw as Record<string, unknown>
    const rule: FaultRule = {}
    if (r.path !== undefined) {
      if (typeof r.path !== 'string') return `${where}.path must be a string`
      rule.path = r.path
    }
    if (r.method !== undefined) {
      if (typeof r.method !== 'string') return `${where}.method must be a string`
      rule.method = r.method.toUpperCase()
    }
    if (r.advertiserId !== undefined) {
      if (typeof r.advertiserId !== 'string' || !/^[0-9]+$/.test(r.advertiserId)) return `${where}.advertiserId must be a string of digits`
      rule.advertiserId = r.advertiserId
    }
    if (r.code !== undefined) {
      if (!Number.isInteger(r.code)) return `${where}.code must be an integer`
      rule.code = r.code as number
    }
    if (r.message !== undefined) {
      if (typeof r.message !== 'string') return `${where}.message must be a string`
      rule.message = r.message
    }
    if (r.httpStatus !== undefined) {
      if (!Number.isInteger(r.httpStatus) || (r.httpStatus as number) < 200 || (r.httpStatus as number) > 599) {
        return `${where}.httpStatus must be an HTTP status (200–599)`
      }
      rule.httpStatus = r.httpStatus as number
    }
    if (r.latencyMs !== undefined) {
      if (typeof r.latencyMs !== 'number' || !(r.latencyMs >= 0)) return `${where}.latencyMs must be a number ≥ 0`
      rule.latencyMs = r.latencyMs
    }
    if (r.reset !== undefined) {
      if (typeof r.reset !== 'boolean') return `${where}.reset must be a boolean`
      rule.reset = r.reset
    }
    if (r.count !== undefined) {
      if (!Number.isInteger(r.count) || (r.count as number) < 1) return `${where}.count must be a positive integer`
      rule.count = r.count as number
    }
    if (r.rate !== undefined) {
      if (typeof r.rate !== 'number' || !(r.rate >= 0 && r.rate <= 1)) return `${where}.rate must be a number between 0 and 1`
      rule.rate = r.rate
    }
    if (rule.code === undefined && rule.httpStatus === undefined && rule.latencyMs === undefined && !rule.reset) {
      return `${where} needs at least one of code, httpStatus, latencyMs, reset`
    }
    rules.push(rule)
  }
  return rules
}

/** Whether a hit by this rule ends the request with an error (as opposed to only delaying it). */
export function isFailingRule(rule: FaultRule): boolean {
  return rule.code !== undefined || rule.httpStatus !== undefined || rule.reset === true
}

export class FaultInjector {
  private rules: ActiveFaultRule[] = []
  private nextId = 1

  constructor(private readonly random: () => number = Math.random) {}

  set(rules: FaultRule[], append = false): void {
    if (!append) this.rules = []
    for (const rule of rules) {
      this.rules.push({ ...rule, id: this.nextId++, hits: 0, remaining: rule.count })
    }
  }

  list(): ActiveFaultRule[] {
    return this.rules.map((r) => ({ ...r }))
  }

  clear(): void {
    this.rules = []
  }

  get size(): number {
    return this.rules.length
  }

  /**
   * The first rule that matches and (by its `rate`) hits this request, counted as used; undefined if none.
   * `advertisers`: those the request is for (read only when a rule names one).
   * Spent rules are removed.
   */
  take(method: string, path: string, advertisers: () => string[] = () => []): ActiveFaultRule | undefined {
    if (this.rules.length === 0) return undefined
    for (const [i, rule] of this.rules.entries()) {
      if (rule.method !== undefined && rule.method !== method) continue
      if (rule.path !== undefined && !path.includes(rule.path)) continue
      if (rule.advertiserId !== undefined && !advertisers().includes(rule.advertiserId)) continue
      if (rule.rate !== undefined && rule.rate < 1 && !(this.random() < rule.rate)) continue
      rule.hits++
      if (rule.remaining !== undefined) {
        rule.remaining--
        if (rule.remaining <= 0) this.rules.splice(i, 1)
      }
      return rule
    }
    return undefined
  }
}

/** The HTML a gateway sends with a 5xx, e.g. `<html><body><h1>504 Gateway Time-out</h1></body></html>`. */
export function gatewayErrorHtml(status: number): string {
  const reason = status === 504 ? 'Gateway Time-out' : (STATUS_CODES[status] ?? 'Error')
  return `<html><body><h1>${status} ${reason}</h1></body></html>`
}

/** The advertisers a request is for (`advertiser_id`, `advertiser_ids`: body or query), for faults scoped to one. */
export function advertisersOfRequest(body: unknown, query: unknown): string[] {
  const out: string[] = []
  for (const from of [body, query]) {
    if (!from || typeof from !== 'object' || Array.isArray(from)) continue
    const fields = from as Record<string, unknown>
    if (fields.advertiser_id !== undefined) out.push(String(fields.advertiser_id))
    let ids = fields.advertiser_ids
    if (typeof ids === 'string') {
      try {
        ids = JSON.parse(ids)
      } catch {
        ids = [ids]
      }
    }
    if (Array.isArray(ids)) for (const id of ids) out.push(String(id))
  }
  return out
}
