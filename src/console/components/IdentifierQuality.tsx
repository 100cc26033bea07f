/**
 * The identifier-quality report of live traffic in Event Delivery (GET
 * /api/destinations/{id}/identifier-quality): per identifier, how the changes routed to this
 * destination had it — the counts `tiktok-audiences report` gives for a file, kept by this process.
 */
import { useEffect, useState } from 'react'
import { api } from '../api'
import { formatNumber, formatTime } from '../ui'
import { DataTable, type Column } from './DataTable'

interface QualityReport {
  since: number
  identifiers: { identifier: 'email' | 'phone' | 'advertising_id'; counts: Record<string, number> }[]
}

const LABELS = { email: 'Email', phone: 'Phone', advertising_id: 'Advertising ID' } as const
const COLUMNS: { key: string; label: string; hint: string }[] = [
  { key: 'hashed', label: 'Hashed', hint: 'normalized and hashed here' },
  { key: 'prehashed', label: 'Pre-hashed', hint: 'arrived as a SHA-256 digest' },
  { key: 'repaired', label: 'Repaired', hint: 'trimmed, or a phone formatted to E.164' },
  { key: 'rejected', label: 'Rejected', hint: 'not a usable value: not sent' },
  { key: 'empty', label: 'Empty', hint: 'no value' },
  { key: 'disabled', label: 'Not sent', hint: 'the mapping does not send it' },
  { key: 'aaid', label: 'Android (AAID)', hint: 'recommended policy: an Android advertising id sent as AAID_SHA256' },
  { key: 'multiple', label: 'Several values', hint: 'recommended policy: several values, each a row of its own' }
]

/** `refresh`: a value that changes when Event Delivery reloads its report. */
export function IdentifierQuality({ destinationId, refresh }: { destinationId: number; refresh: unknown }) {
  const [report, setReport] = useState<QualityReport>()
  useEffect(() => {
    api<QualityReport>('GET', `/api/destinations/${destinationId}/identifier-quality`).then(setReport, () => {})
  }, [destinationId, refresh])
  if (!report) return null
  const total = report.identifiers.reduce((n, r) => n + Object.values(r.counts).reduce((a, b) => a + b, 0), 0)
  if (total === 0) return <p>No change routed to this destination since {formatTime(report.since)}.</p>
  const columns: Column<QualityReport['identifiers'][number]>[] = [
    { header: 'Identifier', rowHeader: true, cell: (r) => LABELS[r.identifier] },
    ...COLUMNS.map((c): Column<QualityReport['identifiers'][number]> => ({ header: c.label, key: c.key, cell: (r) => formatNumber(r.counts[c.key] ?? 0) }))
  ]
  return (
    <>
      <DataTable columns={columns} rows={report.identifiers} rowKey={(r) => r.identifier} caption="Identifier quality" />
      <p className="hint">
        Changes routed since {formatTime(report.since)}, counted by this process (as in /metrics). {COLUMNS.map((c) => `${c.label}: ${c.hint}.`).join(' ')}
      </p>
    </>
  )
}
