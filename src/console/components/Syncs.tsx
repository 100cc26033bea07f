/**
 * Warehouse syncs (config sources of kind postgres): each sync's schedule and last run — rows
 * read, added, removed, failed, duration, error — and Run now. Refreshed every few seconds, so a
 * run started here (or by the schedule) shows its figures when it finishes.
 */
import { useEffect, useState } from 'react'
import { api, ApiError, errorText, type SyncRun, type WarehouseSync } from '../api'
import { ErrorText, formatNumber, formatTime, useLoad } from '../ui'

const REFRESH_MS = 2000

function duration(ms: number | null): string {
  if (ms === null) return '—'
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

function RunCells({ run }: { run: SyncRun | null }) {
  if (!run) return <td colSpan={7}>No run yet</td>
  return (
    <>
      <td>
        <span className={`status status-${run.status}`}>{run.status}</span>
        <br />
        <small>
          {formatTime(run.startedAt)} ({run.startedBy})
        </small>
      </td>
      <td>{formatNumber(run.rowsRead)}</td>
      <td>{formatNumber(run.added)}</td>
      <td>{formatNumber(run.removed)}</td>
      <td>{formatNumber(run.failed)}</td>
      <td>{duration(run.durationMs)}</td>
      <td className="sync-error">{run.error ?? '—'}</td>
    </>
  )
}

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
  return (
    <section aria-labelledby="syncs-title" className="card">
      <h2 id="syncs-title">Warehouse syncs</h2>
      <p>Each sync mirrors its query's rows into its audience on its schedule: only the difference to the last run is sent.</p>
      <ErrorText>{error}</ErrorText>
      <div className="table-wrap">
        <table aria-label="Warehouse syncs">
          <thead>
            <tr>
              <th scope="col">Sync</th>
              <th scope="col">Into</th>
              <th scope="col">Every</th>
              <th scope="col">Last run</th>
              <th scope="col">Rows read</th>
              <th scope="col">Added</th>
              <th scope="col">Removed</th>
              <th scope="col">Failed</th>
              <th scope="col">Duration</th>
              <th scope="col">Error</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data?.map((s) => (
              <tr key={s.name} data-sync={s.name}>
                <th scope="row">
                  {s.name}
                  <br />
                  <small>
                    <code>{s.query}</code>
                  </small>
                </th>
                <td>
                  {s.destination ?? '—'} / {s.audience}
                </td>
                <td>{s.every}</td>
                <RunCells run={s.lastRun} />
                <td>
                  <button type="button" onClick={() => void runNow(s.name)} disabled={s.running} aria-label={`Run ${s.name} now`}>
                    {s.running ? 'Running…' : 'Run now'}
                  </button>
                  {messages[s.name] ? <p role="status">{messages[s.name]}</p> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}
