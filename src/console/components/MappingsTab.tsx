/**
 * Mappings: the list with Status toggles, and the mapping editor Segment users know — choose the
 * action → trigger → field mappings → test event (Load Sample Event) → Test Mapping → Save.
 */
import { useEffect, useMemo, useState } from 'react'
import { api, ApiError, errorText, type ActionCatalog, type ActionDefinition, type Connection, type Destination, type Mapping, type TestResult } from '../api'
import type { LooseEvent } from '../../destination/types'
import { Link, navigate } from '../router'
import { ErrorText, JsonBlock, Notice, Switch, useLoad } from '../ui'
import { DataTable, type Column } from './DataTable'
import { defaultMapping, FieldMappingForm } from './FieldMappingForm'
import { parseTrigger, toFql, TriggerEditor, type TriggerState } from './TriggerEditor'

let catalogPromise: Promise<ActionCatalog> | undefined
export const loadCatalog = (): Promise<ActionCatalog> =>
  (catalogPromise ??= api<ActionCatalog>('GET', '/api/actions').catch((err) => {
    catalogPromise = undefined
    throw err
  }))

export function MappingsTab({ destination, rest }: { destination: Destination; rest: string[] }) {
  if (rest[0] === 'new') return <MappingEditor destination={destination} />
  if (rest[0]) return <MappingEditor destination={destination} mappingId={Number(rest[0])} />
  return <MappingList destination={destination} />
}

function MappingList({ destination: d }: { destination: Destination }) {
  const mappings = useLoad(() => api<Mapping[]>('GET', `/api/destinations/${d.id}/mappings`), [d.id])
  const catalog = useLoad(loadCatalog, [])
  const [error, setError] = useState<string>()
  const title = (key: string) => catalog.data?.actions.find((a) => a.key === key)?.title ?? key
  const toggle = async (m: Mapping, enabled: boolean) => {
    setError(undefined)
    try {
      await api('PATCH', `/api/mappings/${m.id}`, { enabled })
      await mappings.reload()
    } catch (err) {
      setError(errorText(err))
    }
  }
  const remove = async (m: Mapping) => {
    if (!confirm(`Delete the mapping "${m.name}"?`)) return
    try {
      await api('DELETE', `/api/mappings/${m.id}`)
      await mappings.reload()
    } catch (err) {
      setError(errorText(err))
    }
  }
  const columns: Column<Mapping>[] = [
    {
      header: 'Name',
      cell: (m) => (
        <>
          <Link href={`/destinations/${d.id}/mappings/${m.id}`}>{m.name}</Link>
          {m.warnings?.map((w) => (
            <p key={w} className="hint warning-text">
              {w}
            </p>
          ))}
        </>
      )
    },
    { header: 'Action', cell: (m) => title(m.action) },
    { header: 'Trigger', cell: (m) => <code>{m.trigger}</code> },
    { header: 'Status', cell: (m) => <Switch label={`Enable mapping ${m.name}`} checked={m.enabled} onChange={(on) => toggle(m, on)} /> },
    {
      header: 'Actions',
      hideHeader: true,
      cell: (m) => (
        <button type="button" className="link-button" onClick={() => remove(m)} aria-label={`Delete mapping ${m.name}`}>
          Delete
        </button>
      )
    }
  ]
  return (
    <section aria-labelledby="mappings-title">
      <div className="page-head">
        <h2 id="mappings-title">Mappings</h2>
        <button type="button" className="primary" onClick={() => navigate(`/destinations/${d.id}/mappings/new`)}>
          New Mapping
        </button>
      </div>
      <p className="hint">
        Mappings run in the order shown; an event that matches two mappings is sent twice. New mappings are disabled until you switch their Status on. At most
        50 per destination.
      </p>
      <ErrorText>{mappings.error ?? error}</ErrorText>
      {mappings.data && (
        <DataTable
          caption={`Mappings of ${d.name}`}
          columns={columns}
          rows={mappings.data}
          rowKey={(m) => m.id}
          empty={<p>No mappings yet. {d.mode === 'native' ? 'Add "Add to Audience" and "Remove from Audience".' : 'Start with "Create Audience (Legacy)".'}</p>}
        />
      )}
    </section>
  )
}

function ChooseAction({ actions, mode, onChoose }: { actions: ActionDefinition[]; mode: Destination['mode']; onChoose(a: ActionDefinition): void }) {
  // The instance's own actions first; the others still work (SPEC §2.1: same features).
  const sorted = [...actions].sort((a, b) => Number(b.flow === mode) - Number(a.flow === mode))
  return (
    <section aria-labelledby="choose-action-title">
      <h2 id="choose-action-title">Choose an action</h2>
      <ul className="action-list">
        {sorted.map((a) => (
          <li key={a.key}>
            <button type="button" className="action-card" onClick={() => onChoose(a)} aria-describedby={`action-desc-${a.key}`}>
              <strong>{a.title}</strong>
              {a.flow && a.flow !== mode && <span className="pill">for {a.flow} instances</span>}
            </button>
            <p id={`action-desc-${a.key}`} className="hint">
              {a.description}
            </p>
          </li>
        ))}
      </ul>
    </section>
  )
}

/** Errors the API or the tester name by field: `mapping.email`, `trigger`, `name`, or a quoted field key. */
function errorsByField(
  err: { field?: string; message: string } | undefined,
  fields: string[]
): { fields: Record<string, string>; trigger?: string; name?: string; other?: string } {
  if (!err) return { fields: {} }
  const f = err.field ?? ''
  if (f === 'trigger') return { fields: {}, trigger: err.message }
  if (f === 'name') return { fields: {}, name: err.message }
  const key = f.startsWith('mapping.')
    ? f.slice('mapping.'.length).split(/[.[]/)[0]
    : fields.find((k) => [`'${k}'`, `"${k}"`, `\`${k}\``].some((q) => err.message.includes(q)))
  if (key && fields.includes(key)) return { fields: { [key]: err.message } }
  return { fields: {}, other: err.message }
}

function MappingEditor({ destination: d, mappingId }: { destination: Destination; mappingId?: number }) {
  const catalog = useLoad(loadCatalog, [])
  const existing = useLoad(() => (mappingId ? api<Mapping>('GET', `/api/mappings/${mappingId}`) : Promise.resolve(undefined)), [mappingId])
  const connections = useLoad(() => api<Connection[]>('GET', `/api/destinations/${d.id}/audiences`), [d.id])
  const [action, setAction] = useState<ActionDefinition>()
  const [name, setName] = useState('')
  const [trigger, setTrigger] = useState<TriggerState>({ conditions: [], join: 'and', raw: null })
  const [mapping, setMapping] = useState<Record<string, unknown>>({})
  const [eventText, setEventText] = useState('')
  const [eventError, setEventError] = useState<string>()
  const [result, setResult] = useState<TestResult>()
  const [testing, setTesting] = useState(false)
  const [apiError, setApiError] = useState<{ field?: string; message: string }>()
  const [saved, setSaved] = useState<string>()

  const start = (a: ActionDefinition, m?: Mapping) => {
    setAction(a)
    setName(m?.name ?? a.title)
    setTrigger(parseTrigger(m?.trigger ?? a.defaultTrigger))
    setMapping(m?.mapping ?? defaultMapping(a.fields))
    setResult(undefined)
    setApiError(undefined)
  }
  useEffect(() => {
    const m = existing.data
    const a = m && catalog.data?.actions.find((x) => x.key === m.action)
    if (m && a) start(a, m)
  }, [existing.data, catalog.data])

  const fieldKeys = useMemo(() => action?.fields.map((f) => f.key) ?? [], [action])
  const testErr = result?.error ? { message: result.error.message, field: undefined } : undefined
  const shownErrors = errorsByField(apiError ?? testErr, fieldKeys)

  const loadSample = async () => {
    if (!action) return
    try {
      const sample = await api<LooseEvent>('GET', `/api/actions/${action.key}/sample-event`)
      // Use an audience connected to this destination, so the test reaches a TikTok audience that exists.
      const connected = connections.data?.find((c) => c.externalAudienceId)
      const personas = sample.context?.personas
      if (connected && personas?.computation_key && sample.properties) {
        const oldKey = personas.computation_key as string
        const membership = sample.properties[oldKey]
        delete sample.properties[oldKey]
        sample.properties.audience_key = connected.audienceKey
        sample.properties[connected.audienceKey] = membership ?? true
        personas.computation_key = connected.audienceKey
      }
      setEventText(JSON.stringify(sample, null, 2))
      setEventError(undefined)
    } catch (err) {
      setEventError(errorText(err))
    }
  }

  const parseEvent = (): Record<string, unknown> | undefined => {
    try {
      const e = JSON.parse(eventText)
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new Error('the test event must be a JSON object')
      setEventError(undefined)
      return e
    } catch (err) {
      setEventError(`The test event is not valid JSON: ${errorText(err)}`)
      return undefined
    }
  }

  const test = async (extra: { allowDuplicate?: boolean; ignoreTrigger?: boolean } = {}) => {
    if (!action) return
    const event = parseEvent()
    if (!event) return
    setTesting(true)
    setApiError(undefined)
    setResult(undefined)
    try {
      setResult(
        await api<TestResult>('POST', `/api/destinations/${d.id}/mappings/test`, { action: action.key, trigger: toFql(trigger), mapping, event, ...extra })
      )
    } catch (err) {
      setApiError(err instanceof ApiError ? { field: err.field, message: err.message } : { message: errorText(err) })
    } finally {
      setTesting(false)
    }
  }

  const save = async () => {
    if (!action) return
    setApiError(undefined)
    setSaved(undefined)
    try {
      const body = { name, trigger: toFql(trigger), mapping }
      if (mappingId) await api('PATCH', `/api/mappings/${mappingId}`, body)
      else await api('POST', `/api/destinations/${d.id}/mappings`, { ...body, action: action.key })
      navigate(`/destinations/${d.id}/mappings`)
    } catch (err) {
      setApiError(err instanceof ApiError ? { field: err.field, message: err.message } : { message: errorText(err) })
    }
  }

  if (catalog.error) return <ErrorText>{catalog.error}</ErrorText>
  if (!catalog.data) return <p role="status">Loading actions…</p>
  if (!action) {
    if (mappingId) return <p role="status">Loading mapping…</p>
    return (
      <>
        <p className="breadcrumb">
          <Link href={`/destinations/${d.id}/mappings`}>Mappings</Link> / New Mapping
        </p>
        <ChooseAction actions={catalog.data.actions} mode={d.mode} onChoose={(a) => start(a)} />
      </>
    )
  }

  const isCreate = action.kind === 'create'
  return (
    <section aria-labelledby="editor-title" className="mapping-editor">
      <p className="breadcrumb">
        <Link href={`/destinations/${d.id}/mappings`}>Mappings</Link> / {mappingId ? 'Edit Mapping' : 'New Mapping'}
      </p>
      <h2 id="editor-title">{action.title}</h2>
      <p className="hint">{action.description}</p>

      <ol className="steps">
        <li>
          <h3>Define event trigger</h3>
          <TriggerEditor value={trigger} onChange={setTrigger} error={shownErrors.trigger} />
        </li>
        <li>
          <h3>Add test event</h3>
          <div className="actions">
            <button type="button" onClick={loadSample}>
              Load Sample Event
            </button>
          </div>
          <label htmlFor="test-event">Test event (JSON)</label>
          <textarea
            id="test-event"
            className="mono"
            rows={12}
            value={eventText}
            onChange={(e) => setEventText(e.target.value)}
            spellCheck={false}
            aria-describedby="test-event-error"
          />
          <ErrorText id="test-event-error">{eventError}</ErrorText>
          {d.mode === 'native' && !isCreate && connections.data?.length === 0 && (
            <Notice kind="warning">
              No audience is connected to this destination yet, so the event keeps the sample&apos;s <code>external_audience_id</code>, which TikTok will not
              know. Connect an audience under <Link href={`/destinations/${d.id}/audiences`}>Audiences → Add Destination</Link> first, or edit the event.
            </Notice>
          )}
        </li>
        <li>
          <h3>Select mappings</h3>
          <FieldMappingForm
            destinationId={d.id}
            action={action.key}
            fields={action.fields}
            mapping={mapping}
            onChange={setMapping}
            errors={shownErrors.fields}
          />
          <details>
            <summary>Mapping as JSON</summary>
            <pre tabIndex={0}>{JSON.stringify(mapping, null, 2)}</pre>
          </details>
        </li>
        <li>
          <h3>Send test event</h3>
          <p className="hint">
            {isCreate
              ? 'Test Mapping creates the audience on TikTok now (each click creates another one) and shows its audience_id to copy into your Add Users / Remove Users mappings.'
              : 'Test Mapping sends this one event to TikTok now, for real, and shows the mapped payload, the request and TikTok’s response.'}
          </p>
          <div className="actions">
            <button type="button" className="primary" onClick={() => test()} disabled={testing}>
              Test Mapping
            </button>
          </div>
          {testing && <p role="status">Sending the test event…</p>}
          <TestOutcome result={result} onCreateAnyway={() => test({ allowDuplicate: true })} onIgnoreTrigger={() => test({ ignoreTrigger: true })} />
        </li>
        <li>
          <h3>Save</h3>
          <label htmlFor="mapping-name">Mapping name</label>
          <input id="mapping-name" value={name} onChange={(e) => setName(e.target.value)} aria-describedby="mapping-name-error" />
          <ErrorText id="mapping-name-error">{shownErrors.name}</ErrorText>
          {apiError && shownErrors.other && <ErrorText>{shownErrors.other}</ErrorText>}
          {saved && <Notice kind="success">{saved}</Notice>}
          <div className="actions">
            <button type="button" className="primary" onClick={save}>
              Save
            </button>
            <button type="button" onClick={() => navigate(`/destinations/${d.id}/mappings`)}>
              Cancel
            </button>
          </div>
          {isCreate && <p className="hint">You do not need to save or enable Create Audience: Test Mapping already created the audience.</p>}
        </li>
      </ol>
    </section>
  )
}

function TestOutcome({ result, onCreateAnyway, onIgnoreTrigger }: { result: TestResult | undefined; onCreateAnyway(): void; onIgnoreTrigger(): void }) {
  if (!result) return null
  const body = result.response?.body as { code?: number; message?: string } | undefined
  const createdId = result.audience_id
  return (
    <section aria-label="Test result" className="test-result">
      {createdId && (
        <Notice kind="success">
          Audience created. <span>audience_id</span>: <code aria-label="New audience id">{createdId}</code>{' '}
          <button type="button" className="link-button" onClick={() => navigator.clipboard?.writeText(createdId)}>
            Copy audience_id
          </button>
        </Notice>
      )}
      {result.duplicateOf && (
        <Notice kind="warning">
          {result.warning}{' '}
          <button type="button" onClick={onCreateAnyway}>
            Create another audience anyway
          </button>
        </Notice>
      )}
      {!result.duplicateOf && result.warning && <Notice kind="warning">{result.warning}</Notice>}
      {result.error && (
        <Notice kind="error">
          <strong>{result.error.code}</strong>: {result.error.message}
          {result.error.code === 'TRIGGER_NOT_MATCHED' && (
            <>
              {' '}
              <button type="button" onClick={onIgnoreTrigger}>
                Send anyway
              </button>
            </>
          )}
        </Notice>
      )}
      {result.response && (
        <p role="status">
          TikTok answered HTTP {result.response.httpStatus} with <code>code: {String(body?.code)}</code> ({body?.message ?? '—'}).
        </p>
      )}
      <div className="result-grid">
        <JsonBlock label="Mapped payload" value={result.payload} />
        <JsonBlock label="Request to TikTok" value={result.request} />
        <JsonBlock label="Response from TikTok" value={result.response} />
      </div>
    </section>
  )
}
