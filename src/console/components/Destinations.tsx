/** Destinations list and "New Destination" (name, native or legacy instance, source). */
import { useState, type FormEvent } from 'react'
import { api, ApiError, errorText, type Destination, type Source } from '../api'
import { Link, navigate } from '../router'
import { ErrorText, useLoad } from '../ui'
import { DataTable, type Column } from './DataTable'
import { ForgetPerson } from './ForgetPerson'

export function destinationState(d: Destination): string {
  if (!d.enabled) return 'Disabled'
  return d.status === 'paused' ? 'Paused' : 'Enabled'
}

const COLUMNS: Column<Destination>[] = [
  { header: 'Name', cell: (d) => <Link href={`/destinations/${d.id}/settings`}>{d.name}</Link> },
  { header: 'Instance', cell: (d) => (d.mode === 'native' ? 'Native' : 'Legacy') },
  { header: 'Status', cell: (d) => <span className={`pill pill-${destinationState(d).toLowerCase()}`}>{destinationState(d)}</span> },
  {
    header: 'TikTok',
    cell: (d) => (d.connected ? `Connected (${d.advertiserIds.length} advertiser${d.advertiserIds.length === 1 ? '' : 's'})` : 'Not connected')
  }
]

export function DestinationsPage() {
  const { data, error } = useLoad(() => api<Destination[]>('GET', '/api/destinations'), [])
  return (
    <section aria-labelledby="destinations-title">
      <div className="page-head">
        <h1 id="destinations-title">Destinations</h1>
        <button type="button" className="primary" onClick={() => navigate('/destinations/new')}>
          New Destination
        </button>
      </div>
      <ErrorText>{error}</ErrorText>
      {data && (
        <DataTable
          caption="TikTok Audiences destinations"
          columns={COLUMNS}
          rows={data}
          rowKey={(d) => d.id}
          empty={<p>No destinations yet. Create one with New Destination.</p>}
        />
      )}
      {data && data.length > 0 && <ForgetPerson />}
    </section>
  )
}

export function NewDestinationPage() {
  const sources = useLoad(() => api<Source[]>('GET', '/api/sources'), [])
  const [name, setName] = useState('TikTok Audiences')
  const [mode, setMode] = useState<'native' | 'legacy'>('native')
  const [source, setSource] = useState<string>('')
  const [error, setError] = useState<ApiError | string>()
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    try {
      const body: Record<string, unknown> = { name, mode }
      if (source) body.source = Number(source)
      const d = await api<Destination>('POST', '/api/destinations', body)
      navigate(`/destinations/${d.id}/settings`)
    } catch (err) {
      setError(err instanceof ApiError ? err : errorText(err))
    }
  }
  const fieldError = (f: string) => (error instanceof ApiError && error.field === f ? error.message : undefined)
  const otherError = error instanceof ApiError ? (['name', 'source'].includes(error.field ?? '') ? undefined : error.message) : error
  const list = sources.data ?? []
  return (
    <section aria-labelledby="new-destination-title">
      <p className="breadcrumb">
        <Link href="/destinations">Destinations</Link> / New Destination
      </p>
      <h1 id="new-destination-title">New Destination: TikTok Audiences</h1>
      <form onSubmit={submit} className="form narrow">
        <label htmlFor="destination-name">Destination name</label>
        <input id="destination-name" value={name} onChange={(e) => setName(e.target.value)} required aria-describedby="destination-name-error" />
        <ErrorText id="destination-name-error">{fieldError('name')}</ErrorText>

        <fieldset>
          <legend>Instance type</legend>
          <label className="radio">
            <input type="radio" name="mode" value="native" checked={mode === 'native'} onChange={() => setMode('native')} />
            Native
          </label>
          <p className="hint">Connecting an audience creates its TikTok audience for you. Map with Add to Audience / Remove from Audience.</p>
          <label className="radio">
            <input type="radio" name="mode" value="legacy" checked={mode === 'legacy'} onChange={() => setMode('legacy')} />
            Legacy
          </label>
          <p className="hint">
            You create TikTok audiences yourself with the Create Audience mapping and send members with one Add Users / Remove Users pair per audience.
          </p>
        </fieldset>

        {list.length > 1 && (
          <>
            <label htmlFor="destination-source">Source</label>
            <select id="destination-source" value={source} onChange={(e) => setSource(e.target.value)} required aria-describedby="destination-source-error">
              <option value="">Select Source</option>
              {list.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
            <ErrorText id="destination-source-error">{fieldError('source')}</ErrorText>
          </>
        )}
        {list.length === 1 && list[0] && <p className="hint">Source: {list[0].name} (events sent with its write key reach this destination).</p>}
        <ErrorText>{otherError}</ErrorText>
        <div className="actions">
          <button type="submit" className="primary">
            Create Destination
          </button>
          <button type="button" onClick={() => navigate('/destinations')}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  )
}
