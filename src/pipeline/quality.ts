/** Identifier-quality counters (SPEC §5 item 4): how many values were hashed, pre-hashed, repaired, rejected. */
import type { IdentifierReport } from '../destination/identifiers.js'

export type QualityTally = Record<string, Record<string, number>>

export class QualityCounters {
  private readonly byDestination = new Map<number, QualityTally>()

  add(destinationId: number, report: IdentifierReport): void {
    this.addStatuses(destinationId, report.email.status, report.phone.status, report.advertising_id.status)
  }

  /** Counts one change by its identifier statuses (email, phone, advertising id); no allocation beyond a status's first count. */
  addStatuses(destinationId: number, email: string, phone: string, advertisingId: string): void {
    let tally = this.byDestination.get(destinationId)
    if (!tally) this.byDestination.set(destinationId, (tally = { email: {}, phone: {}, advertising_id: {} }))
    tally.email[email] = (tally.email[email] ?? 0) + 1
    tally.phone[phone] = (tally.phone[phone] ?? 0) + 1
    tally.advertising_id[advertisingId] = (tally.advertising_id[advertisingId] ?? 0) + 1
  }

  snapshot(): Map<number, QualityTally> {
    return this.byDestination
  }
}
