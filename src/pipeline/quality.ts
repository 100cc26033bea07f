/** Identifier-quality counters (SPEC §5 item 4): how many values were hashed, pre-hashed, repaired, rejected. */
import type { IdentifierReport } from '../destination/identifiers.js'

export type QualityTally = Record<string, Record<string, number>>

export class QualityCounters {
  private readonly byDestination = new Map<number, QualityTally>()

  add(destinationId: number, report: IdentifierReport): void {
    let tally = this.byDestination.get(destinationId)
    if (!tally) this.byDestination.set(destinationId, (tally = { email: {}, phone: {}, advertising_id: {} }))
    // Hot path (once per change): no allocation beyond the first count of a status.
    const e = tally.email, p = tally.phone, a = tally.advertising_id
    e[report.email.status] = (e[report.email.status] ?? 0) + 1
    p[report.phone.status] = (p[report.phone.status] ?? 0) + 1
    a[report.advertising_id.status] = (a[report.advertising_id.status] ?? 0) + 1
  }

  snapshot(): Map<number, QualityTally> {
    return this.byDestination
  }
}
