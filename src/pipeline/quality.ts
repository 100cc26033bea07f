/** Identifier-quality counters (SPEC §5 item 4): how many values were hashed, pre-hashed, repaired, rejected. */
import type { IdentifierReport } from '../destination/identifiers.js'

export type QualityTally = Record<string, Record<string, number>>

export class QualityCounters {
  private readonly byDestination = new Map<number, QualityTally>()

  add(destinationId: number, report: IdentifierReport): void {
    let tally = this.byDestination.get(destinationId)
    if (!tally) this.byDestination.set(destinationId, (tally = {}))
    for (const kind of Object.keys(report) as (keyof IdentifierReport)[]) {
      const status = report[kind].status
      const t = (tally[kind] ??= {})
      t[status] = (t[status] ?? 0) + 1
    }
  }

  snapshot(): Map<number, QualityTally> {
    return this.byDestination
  }
}
