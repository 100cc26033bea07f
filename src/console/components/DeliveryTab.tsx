/**
 * Event Delivery: Delivered / Not Delivered / Retrying over time (a small SVG chart), P95
 * latency, identifier quality (live report), identifiers dropped by reason, events filtered as not for this destination by reason, errors by reason with samples (You Sent, Request to Destination, Response from
 * Destination) and the dead-letter list with replay. Refreshes every few seconds.
 */
import { useEffect, useState } from 'react'
import { api, errorText, type DeadLetter, type DeliveryReport, type Destination } from '../api'
import { ErrorText, formatNumber, formatTime, JsonBlock, Notice } from '../ui'
import { DataTable, type Column } from './DataTable'
import { IdentifierQuality } from './IdentifierQuality'

const LAST_HOUR = { key: '1h', label: 'Last hour', rangeMs: 3600_000, bucket: '5m' }
const PERIODS = [
  LAST_HOUR,
  { key: '24h', label: 'Last 24 hours', rangeMs: 24 * 3600_000, bucket: '1h' },
  { key: '7d', label: 'Last 7 days', rangeMs: 7 * 24 * 3600_000, bucket: '6h' }
]
const REFRESH_MS = 3000

const IDENTIFIER_LABELS: Record<string, string> = { email: 'Email', phone: 'Phone', advertising_id: 'Advertising ID' }
const DROP_LABELS: Record<string, string> = {
  invalid: 'not a valid value (an email without local@domain.tld, a phone that is not a possible number)',
  national_without_region: 'a national phone number and no default phone region (Settings)',
  invalid_utf8: 'contains U+FFFD: the text was not valid UTF-8',
  control_character: 'contains a NUL or another control character',
  lone_surrogate: 'contains a lone surrogate (not encodable as UTF-8)',
  empty: 'whitespace only',
  too_many_values: 'a person had more than 10 values of this identifier: the others were not sent'
}

/** Identifiers the mappings had a value for but did not send, also of events delivered with their other identifiers. */
const DROPPED_COLUMNS: Column<NonNullable<DeliveryReport['identifiersDropped']>[number]>[] = [
  { header: 'Identifier', cell: (r) => IDENTIFIER_LABELS[r.identifier] ?? r.identifier },
  {
    header: 'Reason',
    cell: (r) => (
      <>
        <code>{r.reason}</code> {DROP_LABELS[r.reason] ?? ''}
      </>
    )
  },
  { header: 'Dropped', cell: (r) => formatNumber(r.count) }
]

function DroppedIdentifiers({ report }: { report: DeliveryReport }) {
  return (
    <DataTable
      caption="Identifiers dropped"
      columns={DROPPED_COLUMNS}
      rows={report.identifiersDropped ?? []}
      rowKey={(r) => `${r.identifier}|${r.reason}`}
      empty={<p>No identifier was dropped in this period.</p>}
    />
  )
}

const SERIES = [
  { key: 'delivered', label: 'Delivered', color: '#1a7f37' },
  { key: 'failed', label: 'Not delivered', color: '#cf222e' },
  { key: 'retried', label: 'Retried', color: '#bf8700' },
  { key: 'pending', label: 'Pending', color: '#8c959f' }
] as const

function DeliveryChart({ report }: { report: DeliveryReport }) {
  const width = 720
  const height = 180
  const pad = { left: 36, bottom: 22, top: 8 }
  const buckets = report.buckets
  const max = Math.max(1, ...buckets.map((b) => b.delivered + b.failed + b.retried + b.pending))
  const slots = Math.max(1, Math.round((report.to - report.from) / report.bucketMs))
  const barW = (width - pad.left) / slots
  const y = (v: number) => ((height - pad.bottom - pad.top) * v) / max
  const summary = `Over the period delivered ${report.totals.delivered}, not delivered ${report.totals.failed}, retried ${report.totals.retried}; pending now ${report.totals.pending}`
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Delivery over time: ${summary}`} preserveAspectRatio="none">
        <line x1={pad.left} x2={width} y1={height - pad.bottom} y2={height - pad.bottom} stroke="#d0d7de" />
        <text x={pad.left - 4} y={pad.top + 8} textAnchor="end" fontSize="10" fill="#57606a">
          {max}
        </text>
        <text x={pad.left - 4} y={height - pad.bottom} textAnchor="end" fontSize="10" fill="#57606a">
          0
        </text>
        {buckets.map((b) => {
          const slot = Math.floor((b.start - report.from) / report.bucketMs)
          let base = height - pad.bottom
          return (
            <g key={b.start}>
              <title>{`${formatTime(b.start)}: ${b.delivered} delivered, ${b.failed} not delivered, ${b.retried} retried, ${b.pending} pending`}</title>
              {SERIES.map((s) => {
                const h = y(b[s.key])
                base -= h
                return h > 0 ? <rect key={s.key} x={pad.left + slot * barW + 1} y={base} width={Math.max(1, barW - 2)} height={h} fill={s.color} /> : null
              })}
            </g>
          )
        })}
        <text x={pad.left} y={height - 6} fontSize="10" fill="#57606a">
          {formatTime(report.from)}
        </text>
        <text x={width} y={height - 6} fontSize="10" fill="#57606a" textAnchor="end">
          now
        </text>
      </svg>
      <figcaption className="legend">
        {SERIES.map((s) => (
          <span key={s.key}>
            <span className="swatch" style={{ background: s.color }} aria-hidden="true" /> {s.label}
          </span>
        ))}
      </figcaption>
    </figure>
  )
}

/** "then delivered", "then 2 delivered, 1 still retrying": what came of the partitions retried. */
function retryOutcome(then: DeliveryReport['retried'][number]['then']): string {
  const parts = (['delivered', 'failed', 'paused', 'retrying'] as const).filter((k) => then[k] > 0)
  const words = { delivered: 'delivered', failed: 'failed', paused: 'paused', retrying: 'still retrying' }
  const [only] = parts
  if (parts.length === 1 && only) return `then ${words[only]}`
  return `then ${parts.map((k) => `${then[k]} ${words[k]}`).join(', ')}`
}

export function DeliveryTab({ destination: d }: { destination: Destination }) {
  const [period, setPeriod] = useState(LAST_HOUR)
  const [report, setReport] = useState<DeliveryReport>()
  const [dead, setDead] = useState<{ total: number; items: DeadLetter[] }>()
  const [error, setError] = useState<string>()
  const [message, setMessage] = useState<string>()
  const [tick, setTick] = useState(0)

  useEffect(() => {
    let stop = false
    const load = async () => {
      try {
        const to = Date.now() + 1
        const [r, dl] = await Promise.all([
          api<DeliveryReport>('GET', `/api/destinations/${d.id}/delivery?from=${to - period.rangeMs}&to=${to}&bucket=${period.bucket}`),
          api<{ total: number; items: DeadLetter[] }>('GET', `/api/destinations/${d.id}/dead-letters?limit=100`)
        ])
        if (stop) return
        setReport(r)
        setDead(dl)
        setError(undefined)
      } catch (err) {
        if (!stop) setError(errorText(err))
      }
    }
    void load()
    const t = setInterval(load, REFRESH_MS)
    return () => {
      stop = true
      clearInterval(t)
    }
  }, [d.id, period, tick])

  const replay = async (ids?: number[]) => {
    try {
      const r = await api<{ replayed: number; notReplayed: number; warning?: string }>(
        'POST',
        `/api/destinations/${d.id}/dead-letters/replay`,
        ids ? { ids } : {}
      )
      setMessage(`Replayed ${r.replayed} dead letter(s)${r.notReplayed ? `; ${r.notReplayed} cannot be replayed` : ''}.${r.warning ? ` ${r.warning}` : ''}`)
      setTick((t) => t + 1)
    } catch (err) {
      setError(errorText(err))
    }
  }

  const deadColumns: Column<DeadLetter>[] = [
    { header: 'When', cell: (x) => formatTime(x.createdAt) },
    { header: 'Action', cell: (x) => x.action },
    {
      header: 'Reason',
      cell: (x) => (
        <>
          {x.errorCode && <code>{x.errorCode}</code>} {x.error}
        </>
      )
    },
    { header: 'Attempts', cell: (x) => x.attempts },
    {
      header: 'Replay',
      hideHeader: true,
      cell: (x) =>
        x.replayable ? (
          <button type="button" onClick={() => replay([x.id])} aria-label={`Replay dead letter ${x.id}`}>
            Replay
          </button>
        ) : (
          <span className="muted" title={x.resolvedBy ?? undefined}>
            {x.resolvedBy ? 'Cannot be replayed: resolved by a later change' : 'Cannot be replayed: it failed before it was queued'}
          </span>
        )
    }
  ]

  return (
    <section aria-labelledby="delivery-title">
      <div className="page-head">
        <h2 id="delivery-title">Event Delivery</h2>
        <label htmlFor="delivery-period">Time period</label>
        <select id="delivery-period" value={period.key} onChange={(e) => setPeriod(PERIODS.find((p) => p.key === e.target.value) ?? LAST_HOUR)}>
          {PERIODS.map((p) => (
            <option key={p.key} value={p.key}>
              {p.label}
            </option>
          ))}
        </select>
      </div>
      {d.status === 'paused' && (
        <Notice kind="error">Delivery is paused: {d.statusReason} Reauthorize TikTok in Settings; queued events wait and are not lost.</Notice>
      )}
      {!d.enabled && <Notice kind="warning">This destination is disabled: events are not sent until you enable it in Settings.</Notice>}
      <ErrorText>{error}</ErrorText>
      {report && (
        <>
          <dl className="metrics" aria-label="Key metrics">
            <div>
              <dt>Delivered</dt>
              <dd data-testid="delivered-count">{formatNumber(report.totals.delivered)}</dd>
            </div>
            <div>
              <dt>Not Delivered</dt>
              <dd>{formatNumber(report.totals.failed)}</dd>
            </div>
            <div>
              <dt>Retrying now</dt>
              <dd data-testid="retrying-count">{formatNumber(report.totals.retrying)}</dd>
            </div>
            <div>
              <dt>Pending now</dt>
              <dd>{formatNumber(report.totals.pending)}</dd>
            </div>
            <div>
              <dt>Filtered</dt>
              <dd data-testid="filtered-count">{formatNumber(report.totals.filtered)}</dd>
            </div>
            <div>
              <dt>P95 Latency</dt>
              <dd>{report.p95LatencyMs === null ? '—' : `${formatNumber(Math.round(report.p95LatencyMs))} ms`}</dd>
            </div>
          </dl>
          <DeliveryChart report={report} />

          <h3>Identifier quality</h3>
          <IdentifierQuality destinationId={d.id} refresh={report} />

          <h3>Identifiers dropped</h3>
          <p className="hint">Values a mapping had but did not send — counted also when the event was delivered with its other identifiers.</p>
          <DroppedIdentifiers report={report} />
          {report.filtered.length > 0 && (
            <>
              <h3>Not for this destination</h3>
              <p className="muted">Skipped by routing, not failed: nothing to retry or replay.</p>
              <ul aria-label="Filtered events by reason">
                {report.filtered.map((f) => (
                  <li key={f.reason}>
                    {formatNumber(f.count)} × {f.description} (<code>{f.reason}</code>)
                  </li>
                ))}
              </ul>
            </>
          )}

          <h3>Errors</h3>
          {report.errors.length === 0 ? (
            <p>{report.retried.length === 0 ? 'No errors in this period.' : 'Nothing failed in this period; some changes were retried (below).'}</p>
          ) : (
            <ul className="error-groups">
              {report.errors.map((g, i) => (
                <li key={i}>
                  <details>
                    <summary>
                      <strong>{g.errorCode ?? g.status}</strong> {g.reason ?? '(no reason recorded)'} — {formatNumber(g.count)}{' '}
                      {g.status === 'retrying' ? 'retrying' : 'not delivered'}, last {formatTime(g.lastAt)}
                    </summary>
                    <div className="result-grid">
                      <JsonBlock label="You Sent" value={g.sample.received ?? '(the raw event is not kept once routed: identifiers are redacted)'} />
                      <JsonBlock label="Request to Destination" value={g.sample.request} />
                      <JsonBlock label="Response from Destination" value={g.sample.response} />
                    </div>
                  </details>
                </li>
              ))}
            </ul>
          )}
        </>
      )}

      {report && report.retried.length > 0 && (
        <>
          <h3>Retried</h3>
          <ul className="error-groups" aria-label="Retried changes by reason">
            {report.retried.map((r, i) => (
              <li key={i}>
                <strong>{r.errorCode ?? 'error'}</strong> {r.reason ?? '(no reason recorded)'} ×{formatNumber(r.retries)}
                {r.changes > 0 && ` (${formatNumber(r.changes)} change${r.changes === 1 ? '' : 's'} sent again)`}, {retryOutcome(r.then)} · last{' '}
                {formatTime(r.lastAt)}
              </li>
            ))}
          </ul>
        </>
      )}

      <h3>Dead letters</h3>
      {message && <Notice kind="success">{message}</Notice>}
      {dead && dead.total === 0 && <p>No dead letters: nothing failed permanently.</p>}
      {dead && dead.total > 0 && (
        <>
          <p>
            {formatNumber(dead.total)} dead letter(s): changes that failed permanently, kept with their reason. Replay puts one back at the end of its queue.{' '}
            {dead.items.some((x) => x.replayable) && (
              <button type="button" onClick={() => replay()}>
                Replay all
              </button>
            )}
          </p>
          <DataTable caption="Dead letters" columns={deadColumns} rows={dead.items} rowKey={(x) => x.id} />
        </>
      )}
    </section>
  )
}
