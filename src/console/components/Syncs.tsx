/**
 * Warehouse syncs (config sources of kind postgres): each sync's schedule and last run — rows
 * read, added, removed, failed, duration, error — and Run now. Refreshed every few seconds, so a
 * run started here (or by the schedule) shows its figures when it finishes.
 */
import { useEffect, useState, type ReactNode } from 'react'
import { api, ApiError, errorText, type SyncRun, type WarehouseSync } from '../api'
import { ErrorText, formatNumber, formatTime, useLoad } from '../ui'
import { DataTable, type Column } from './DataTable'

const REFRESH_MS = 2000

function duration(ms: number | null): string {
  if (ms === null) return '—'
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

/** A cell of the last run; a sync without one shows "No run yet" across the run's seven columns. */
const ofRun = (cell: (run: SyncRun) => ReactNode) => (s: WarehouseSync) => (s.lastRun ? cell(s.lastRun) : 'No run yet')
const RUN_COLUMNS = 7

export function SyncsSection() {
  const { data, error, reload } = useLoad(() => api<WarehouseSync[]>('GET', '/api/syncs'), [])
  const [messages, setMessages] = useState<Record<string, string>>({})
  useEffect(() => {
    const timer = setInterval(() => void reload(), REFRESH_MS)
    return () => clearInterval(timer)
  }, [reload])
  const runNow = async (name: string) => {
    setMessages((m) => ({ ...m, [name]: '' }))
    try {
      await api('POST', `/api/syncs/${encodeURIComponent(name)}/run`)
      setMessages((m) => ({ ...m, [name]: 'Started' }))
    } catch (err) {
      setMessages((m) => ({ ...m, [name]: err instanceof ApiError && err.status === 409 ? err.message : errorText(err) }))
    }
    await reload()
  }
  if (!data?.length && !error) return null
  const columns: Column<WarehouseSync>[] = [
    {
      header: 'Sync',
      rowHeader: true,
      cell: (s) => (
        <>
          {s.name}
          <br />
          <small>
            <code>{s.query}</code>
          </small>
        </>
      )
    },
    {
      header: 'Into',
      cell: (s) => (
        <>
          {s.destination ?? '—'} / {s.audience}
        </>
      )
    },
    { header: 'Every', cell: (s) => s.every },
    {
      header: 'Last run',
      span: (s) => (s.lastRun ? 1 : RUN_COLUMNS),
      cell: ofRun((run) => (
        <>
          <span className={`status status-${run.status}`}>{run.status}</span>
          <br />
          <small>
            {formatTime(run.startedAt)} ({run.startedBy})
          </small>
        </>
      ))
    },
    { header: 'Rows read', cell: ofRun((run) => formatNumber(run.rowsRead)) },
    { header: 'Added', cell: ofRun((run) => formatNumber(run.added)) },
    { header: 'Removed', cell: ofRun((run) => formatNumber(run.removed)) },
    { header: 'Failed', cell: ofRun((run) => formatNumber(run.failed)) },
    { header: 'Duration', cell: ofRun((run) => duration(run.durationMs)) },
    { header: 'Error', className: 'sync-error', cell: ofRun((run) => run.error ?? '—') },
    {
      header: 'Actions',
      hideHeader: true,
      cell: (s) => (
        <>
          <button type="button" onClick={() => void runNow(s.name)} disabled={s.running} aria-label={`Run ${s.name} now`}>
            {s.running ? 'Running…' : 'Run now'}
          </button>
          {messages[s.name] ? <p role="status">{messages[s.name]}</p> : null}
        </>
      )
    }
  ]
  return (
    <section aria-labelledby="syncs-title" className="card">
      <h2 id="syncs-title">Warehouse syncs</h2>
      <p>Each sync mirrors its query's rows into its audience on its schedule: only the difference to the last run is sent.</p>
      <ErrorText>{error}</ErrorText>
      <DataTable label="Warehouse syncs" columns={columns} rows={data ?? []} rowKey={(s) => s.name} rowProps={(s) => ({ 'data-sync': s.name })} />
    </section>
  )
}
