/**
 * Events routing skipped as not for a destination, per destination and reason, since this process
 * started: `/metrics` reads them (tiktok_audiences_events_filtered_total). The database keeps the
 * same counts per time slot for Event Delivery and /api/stats (filtered_totals).
 */
export class FilteredCounters {
  private readonly byDestination = new Map<number, Record<string, number>>()

  add(destinationId: number, reason: string, n: number): void {
    let tally = this.byDestination.get(destinationId)
    if (!tally) this.byDestination.set(destinationId, (tally = {}))
    tally[reason] = (tally[reason] ?? 0) + n
  }

  snapshot(): Map<number, Record<string, number>> {
    return this.byDestination
  }
}
