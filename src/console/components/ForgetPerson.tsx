/**
 * "Forget a person" (Destinations page): POST /api/forget with any of a person's identifiers, the
 * audiences they were removed from with TikTok's answer, and the audit of recent removals.
 */
import { useState, type FormEvent } from 'react'
import { api, ApiError, errorText } from '../api'
import { ErrorText, formatTime, Notice, useLoad } from '../ui'
import { DataTable, type Column } from './DataTable'

interface ForgetAudience {
  destination: string
  audienceId: string
  status: 'pending' | 'removed' | 'failed'
  error?: string
}
interface Audit {
  id: number
  requestedAt: number
  origin: 'forget' | 'consent'
  finishedAt: number | null
  audiences: ForgetAudience[]
}

const FIELDS = [
  { key: 'email', label: 'Email' },
  { key: 'phone', label: 'Phone' },
  { key: 'advertising_id', label: 'Advertising ID' },
  { key: 'userId', label: 'User ID' }
] as const

const AUDIT_COLUMNS: Column<Audit>[] = [
  { header: 'Audit', cell: (a) => `#${a.id}` },
  { header: 'Requested', cell: (a) => formatTime(a.requestedAt) },
  { header: 'Why', cell: (a) => (a.origin === 'forget' ? 'Forget' : 'Consent withdrawn') },
  { header: 'Audiences', cell: (a) => (a.audiences.length === 0 ? 'none' : a.audiences.map((x) => `${x.destination} ${x.audienceId}: ${x.status}`).join('; ')) }
]

export function ForgetPerson() {
  const [values, setValues] = useState<Record<string, string>>({})
  const [result, setResult] = useState<{ audiences: ForgetAudience[]; audit: number; notRecorded: string[] }>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const audits = useLoad(() => api<Audit[]>('GET', '/api/forget/audits?limit=10'), [])
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setError(undefined)
    setResult(undefined)
    const body: Record<string, string> = {}
    for (const { key } of FIELDS) if (values[key]?.trim()) body[key] = values[key].trim()
    setBusy(true)
    try {
      setResult(await api('POST', '/api/forget', body))
      await audits.reload()
    } catch (err) {
      setError(err instanceof ApiError ? err.message : errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section aria-labelledby="forget-title" className="forget">
      <h2 id="forget-title">Forget a person</h2>
      <p className="hint">
        Removes them from every TikTok audience this service added them to, in every destination, and records an audit (hashed identifiers only). Give any of
        their identifiers.
      </p>
      <form onSubmit={submit} className="form narrow">
        {FIELDS.map(({ key, label }) => (
          <div key={key}>
            <label htmlFor={`forget-${key}`}>{label}</label>
            <input id={`forget-${key}`} value={values[key] ?? ''} onChange={(e) => setValues({ ...values, [key]: e.target.value })} autoComplete="off" />
          </div>
        ))}
        <ErrorText>{error}</ErrorText>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Removing…' : 'Forget this person'}
          </button>
        </div>
      </form>
      {result && (
        <Notice kind={result.audiences.some((a) => a.status === 'failed') ? 'error' : 'success'} role="status">
          {result.audiences.length === 0
            ? `Audit #${result.audit}: this person was not found in any audience.`
            : `Audit #${result.audit}: ${result.audiences.map((a) => `${a.destination} audience ${a.audienceId}: ${a.status}${a.error ? ` (${a.error})` : ''}`).join('; ')}`}
          {result.notRecorded.length > 0 && ` Not searched: ${result.notRecorded.join(', ')} (Remember members is off there).`}
        </Notice>
      )}
      {audits.data && <DataTable caption="Recent removals" showCaption columns={AUDIT_COLUMNS} rows={audits.data} rowKey={(a) => a.id} empty={null} />}
    </section>
  )
}
