/**
 * Identifier-quality counters (SPEC §5 item 4): how many values were hashed, pre-hashed, repaired,
 * rejected; the `recommended` policy's matching choices (`aaid`, `multiple`: counted besides the
 * status); and the identifiers a mapping dropped, by reason (what `/metrics` shows of this process).
 */
import type { IdentifierKind, IdentifierReport } from '../destination/identifiers.js'
import { must } from '../util/must.js'

/** A matching choice (destination/matching.ts), tallied like a status of its identifier. */
export type MatchingChoice = 'aaid' | 'multiple'

/** The choices an identifier report made: `aaid` (Android id sent as AAID_SHA256), `multiple` (several values). */
export function choicesOf(report: IdentifierReport): [IdentifierKind, MatchingChoice][] {
  const out: [IdentifierKind, MatchingChoice][] = []
  if (report.email.more) out.push(['email', 'multiple'])
  if (report.phone.more) out.push(['phone', 'multiple'])
  if (report.advertising_id.idType === 'AAID_SHA256') out.push(['advertising_id', 'aaid'])
  return out
}

export type QualityTally = Record<IdentifierKind, Record<string, number>>
/** Per destination id: `identifier|reason` → count. */
export type DropTally = Map<number, Map<string, number>>

export class QualityCounters {
  private readonly byDestination = new Map<number, QualityTally>()
  private readonly dropped: DropTally = new Map()

  add(destinationId: number, report: IdentifierReport): void {
    this.addStatuses(destinationId, report.email.status, report.phone.status, report.advertising_id.status)
    for (const [kind, choice] of choicesOf(report)) this.addChoice(destinationId, kind, choice)
  }

  /** Counts a matching choice besides the identifier's status (after addStatuses for the same change). */
  addChoice(destinationId: number, kind: IdentifierKind, choice: MatchingChoice): void {
    const tally = must(this.byDestination.get(destinationId), "the destination's tally (addStatuses comes first)")[kind]
    tally[choice] = (tally[choice] ?? 0) + 1
  }

  /** Counts one change by its identifier statuses (email, phone, advertising id); no allocation beyond a status's first count. */
  addStatuses(destinationId: number, email: string, phone: string, advertisingId: string): void {
    let tally = this.byDestination.get(destinationId)
    if (!tally) this.byDestination.set(destinationId, (tally = { email: {}, phone: {}, advertising_id: {} }))
    tally.email[email] = (tally.email[email] ?? 0) + 1
    tally.phone[phone] = (tally.phone[phone] ?? 0) + 1
    tally.advertising_id[advertisingId] = (tally.advertising_id[advertisingId] ?? 0) + 1
  }

  /** Counts identifiers dropped once the transaction that recorded them committed. */
  addDrops(destinationId: number, identifier: string, reason: string, n: number): void {
    let tally = this.dropped.get(destinationId)
    if (!tally) this.dropped.set(destinationId, (tally = new Map()))
    const k = `${identifier}|${reason}`
    tally.set(k, (tally.get(k) ?? 0) + n)
  }

  snapshot(): Map<number, QualityTally> {
    return this.byDestination
  }

  drops(): DropTally {
    return this.dropped
  }
}
