/**
 * A legacy destination's "Migrate to native" (src/lifecycle/migrate): the dry run first — exactly
 * what would change — then the migration on confirmation.
 */
import { useState } from 'react'
import { api, errorText, type Destination, type MigrationResult } from '../api'
import { ErrorText, Notice } from '../ui'
import { DataTable, type Column } from './DataTable'

const CONNECTION_COLUMNS: Column<MigrationResult['connections'][number]>[] = [
  {
    header: 'Audience key',
    cell: (c) => (
      <>
        <code>{c.key}</code>
        {c.keyFrom === 'tiktok name' && <span className="muted"> (from the TikTok name)</span>}
      </>
    )
  },
  {
    header: 'TikTok audience',
    cell: (c) => (
      <>
        {c.name} <code>{c.externalAudienceId}</code>
      </>
    )
  },
  { header: 'Advertiser', cell: (c) => <code>{c.advertiserId}</code> },
  {
    header: 'Events',
    cell: (c) => (
      <>
        {c.enterEvent} / {c.exitEvent}
      </>
    )
  }
]

export function MigrateToNative({ destination: d, onMigrated }: { destination: Destination; onMigrated(): Promise<void> }) {
  const [plan, setPlan] = useState<MigrationResult>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const run = async (dryRun: boolean) => {
    setBusy(true)
    setError(undefined)
    try {
      const result = await api<MigrationResult>('POST', `/api/destinations/${d.id}/migrate`, { dryRun })
      if (dryRun) setPlan(result)
      else {
        setPlan(undefined)
        await onMigrated()
      }
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section aria-labelledby="migrate-title" className="card">
      <h2 id="migrate-title">Migrate to native</h2>
      <p>
        Turns the Add Users / Remove Users mappings into audience connections that keep the same TikTok audience ids, with Add to Audience / Remove from
        Audience mappings in their place. Changes already queued are delivered as they were.
      </p>
      {!plan && (
        <button type="button" disabled={busy} onClick={() => void run(true)}>
          Preview migration
        </button>
      )}
      <ErrorText>{error}</ErrorText>
      {plan && (
        <div role="region" aria-label="Migration preview">
          <p>The destination becomes native, with these audience connections:</p>
          <DataTable bare columns={CONNECTION_COLUMNS} rows={plan.connections} rowKey={(c) => c.key} />
          <p>Mappings replaced:</p>
          <ul>
            {plan.mappings.add.map((m) => (
              <li key={m.name}>
                {m.replaces} → {m.name} <code>{m.trigger}</code>
              </li>
            ))}
          </ul>
          {plan.notes.map((n) => (
            <Notice key={n} kind="warning">
              {n}
            </Notice>
          ))}
          <div className="actions">
            <button type="button" className="primary" disabled={busy} onClick={() => void run(false)}>
              Migrate {d.name} to native
            </button>
            <button type="button" disabled={busy} onClick={() => setPlan(undefined)}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </section>
  )
}
