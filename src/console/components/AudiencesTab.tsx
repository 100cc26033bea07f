/**
 * Audiences seen in traffic or declared, their connection to this destination (Segment's "Add
 * Destination" side panel), the TikTok audience id and its health.
 */
import { useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, errorText, type Audience, type AudienceHealth, type AudienceHealthSummary, type Connection, type Destination } from '../api'
import { ErrorText, formatNumber, formatTime, Notice, SidePanel, Switch, useLoad } from '../ui'
import { AudienceHealthHistory } from './AudienceHealth'
import { DataTable, type Column } from './DataTable'

const DELAY_NOTE = 'TikTok takes 24–48 hours to show new members in Ads Manager, and needs at least 1,000 matched users before it can target an audience.'

export function AudiencesTab({ destination: d }: { destination: Destination }) {
  const audiences = useLoad(() => api<Audience[]>('GET', '/api/audiences'), [])
  const [panel, setPanel] = useState<{ key: string; name: string | null; connection?: Connection }>()
  const [newKey, setNewKey] = useState('')
  const [error, setError] = useState<string>()
  const list = (audiences.data ?? []).filter((a) => a.sourceId === null || a.sourceId === d.sourceId)

  const disconnect = async (key: string) => {
    if (!confirm(`Disconnect the audience "${key}" from ${d.name}? Its TikTok audience is kept.`)) return
    try {
      await api('DELETE', `/api/destinations/${d.id}/audiences/${encodeURIComponent(key)}`)
      await audiences.reload()
    } catch (err) {
      setError(errorText(err))
    }
  }
  const declare = (e: FormEvent) => {
    e.preventDefault()
    if (newKey.trim()) setPanel({ key: newKey.trim(), name: null })
  }
  const connection = (a: Audience) => a.destinations.find((x) => x.destinationId === d.id)
  const columns: Column<Audience>[] = [
    {
      header: 'Audience',
      rowHeader: true,
      cell: (a) => (
        <>
          {a.name ?? a.key}
          <br />
          <code className="muted">{a.key}</code>
        </>
      )
    },
    { header: 'Last seen', cell: (a) => (a.seen ? formatTime(a.lastSeenAt) : 'Not seen yet') },
    {
      header: 'Destination status',
      cell: (a) => {
        const c = connection(a)
        return c ? (
          <span className={`pill pill-${c.status}`}>{c.status === 'connected' ? 'Connected' : c.status === 'paused' ? 'Paused' : 'Disabled'}</span>
        ) : (
          'Disconnected'
        )
      }
    },
    {
      header: 'TikTok audience',
      cell: (a) => {
        const c = connection(a)
        return c ? <AudienceHealthCell destination={d} connection={c} /> : '—'
      }
    },
    {
      header: 'Actions',
      hideHeader: true,
      cell: (a) => {
        const c = connection(a)
        return (
          <div className="row-actions">
            {c ? (
              <>
                <button type="button" onClick={() => setPanel({ key: a.key, name: a.name, connection: c })} aria-label={`Edit settings of ${a.name ?? a.key}`}>
                  Edit Settings
                </button>
                <button type="button" className="link-button" onClick={() => disconnect(a.key)} aria-label={`Disconnect ${a.name ?? a.key}`}>
                  Disconnect
                </button>
              </>
            ) : (
              <button
                type="button"
                className="primary"
                onClick={() => setPanel({ key: a.key, name: a.name })}
                aria-label={`Add Destination to ${a.name ?? a.key}`}
              >
                Add Destination
              </button>
            )}
          </div>
        )
      }
    }
  ]

  return (
    <section aria-labelledby="audiences-title">
      <h2 id="audiences-title">Audiences</h2>
      <Notice kind="info">{DELAY_NOTE}</Notice>
      <ErrorText>{audiences.error ?? error}</ErrorText>
      {audiences.data && (
        <DataTable
          caption={`Audiences and their connection to ${d.name}`}
          columns={columns}
          rows={list}
          rowKey={(a) => a.key}
          empty={<p>No audience seen yet. Send an Engage audience event, or add one by its key below.</p>}
        />
      )}
      <form onSubmit={declare} className="inline-form">
        <label htmlFor="new-audience-key">Audience key (computation_key)</label>
        <input id="new-audience-key" value={newKey} onChange={(e) => setNewKey(e.target.value)} placeholder="first_time_shopper" />
        <button type="submit">Add Destination to this audience</button>
      </form>
      {panel && (
        <AddDestinationPanel
          destination={d}
          audienceKey={panel.key}
          audienceName={panel.name}
          connection={panel.connection}
          onClose={() => setPanel(undefined)}
          onSaved={async () => {
            setPanel(undefined)
            await audiences.reload()
          }}
        />
      )}
    </section>
  )
}

function AudienceHealthCell({ destination: d, connection: c }: { destination: Destination; connection: Connection }) {
  const [health, setHealth] = useState<AudienceHealth>()
  const [error, setError] = useState<string>()
  useEffect(() => {
    if (!c.externalAudienceId) return
    api<AudienceHealth>('GET', `/api/destinations/${d.id}/audiences/${encodeURIComponent(c.audienceKey)}/health`).then(setHealth, (err) =>
      setError(errorText(err))
    )
  }, [d.id, c.audienceKey, c.externalAudienceId])
  if (!c.externalAudienceId) return <span className="muted">{d.mode === 'legacy' ? 'Set by your Add Users mapping' : 'Not created yet'}</span>
  return (
    <div className="health">
      <div>
        audience_id <code>{c.externalAudienceId}</code>
      </div>
      {c.targets.length > 1 && <AdvertiserTargets connection={c} />}
      {error && <p className="warning-text">Health unavailable: {error}</p>}
      {health && (
        <dl aria-label={`Health of ${c.audienceName ?? c.audienceKey}`}>
          <dt>Size</dt>
          <dd>{formatNumber(Number(health.cover_num))} matched users</dd>
          <dt>Targetable</dt>
          <dd>{health.is_valid && Number(health.cover_num) >= 1000 ? 'Yes' : 'Not yet'}</dd>
          <dt>Expires</dt>
          <dd>{health.expired_time ?? '—'}</dd>
        </dl>
      )}
      {health?.warnings.map((w) => (
        <p key={w} className="warning-text" role="note">
          ⚠ {w}
        </p>
      ))}
      <AudienceHealthHistory
        destinationId={d.id}
        audienceKey={c.audienceKey}
        advertiserId={c.advertiserId ?? undefined}
        label={c.audienceName ?? c.audienceKey}
      />
    </div>
  )
}

const TARGET_STATES = { connected: 'Connected', failed: 'Failed', pending: 'Not created yet' } as const

/** Fan-out: each advertiser of the connection with its own TikTok audience id, state and last recorded health read. */
function AdvertiserTargets({ connection: c }: { connection: Connection }) {
  const [reads, setReads] = useState<AudienceHealthSummary['audiences']>([])
  useEffect(() => {
    api<AudienceHealthSummary>('GET', '/api/audience-health').then(
      (s) => setReads(s.audiences),
      () => {}
    )
  }, [c.destinationId, c.audienceKey])
  const readOf = (t: Connection['targets'][number]) =>
    reads.find(
      (r) =>
        r.destinationId === c.destinationId &&
        r.audienceKey === c.audienceKey &&
        r.advertiserId === t.advertiserId &&
        r.externalAudienceId === t.externalAudienceId
    )
  return (
    <ul className="targets" aria-label={`TikTok audiences of ${c.audienceName ?? c.audienceKey} by advertiser`}>
      {c.targets.map((t) => {
        const read = readOf(t)
        return (
          <li key={t.advertiserId}>
            Advertiser <code>{t.advertiserId}</code>: {t.externalAudienceId ? <code>{t.externalAudienceId}</code> : '—'}{' '}
            <span className={`pill pill-${t.state === 'connected' ? 'connected' : 'paused'}`}>{TARGET_STATES[t.state]}</span>
            {t.error && <span className="warning-text"> {t.error}</span>}
            {read &&
              (read.error ? (
                <span className="warning-text"> Health read failed: {read.error}</span>
              ) : (
                read.coverNum !== null && <span> · {formatNumber(read.coverNum)} matched users</span>
              ))}
            {read?.warnings.map((w) => (
              <span key={w.reason} className="warning-text" role="note">
                {' '}
                ⚠ {w.message}
              </span>
            ))}
          </li>
        )
      })}
    </ul>
  )
}

function AddDestinationPanel(props: {
  destination: Destination
  audienceKey: string
  audienceName: string | null
  connection?: Connection
  onClose(): void
  onSaved(): Promise<void>
}) {
  const { destination: d, connection: c } = props
  const [sendTrack, setSendTrack] = useState(c?.sendTrack ?? true)
  const [sendIdentify, setSendIdentify] = useState(c?.sendIdentify ?? false)
  const [enterEvent, setEnterEvent] = useState(c?.enterEvent ?? 'Audience Entered')
  const [exitEvent, setExitEvent] = useState(c?.exitEvent ?? 'Audience Exited')
  const [advertiserId, setAdvertiserId] = useState(c?.advertiserId ?? d.advertiserIds[0]?.id ?? '')
  // Fan-out: further advertisers that get their own TikTok audience of this one.
  const [alsoTo, setAlsoTo] = useState<string[]>(c?.advertiserIds.slice(1) ?? [])
  const others = d.advertiserIds.filter((a) => a.id !== advertiserId)
  const [externalId, setExternalId] = useState(c?.externalAudienceId ?? '')
  const [name, setName] = useState(props.audienceName ?? '')
  const [error, setError] = useState<ApiError | string>()
  const [busy, setBusy] = useState(false)
  const fieldError = (f: string) => (error instanceof ApiError && error.field === f ? error.message : undefined)
  const otherError =
    error instanceof ApiError
      ? ['advertiserId', 'advertiserIds', 'externalAudienceId', 'enterEvent', 'exitEvent', 'name'].includes(error.field ?? '')
        ? undefined
        : error.message
      : error

  // The advertiser already has an audience of this name: the user picks it or asks for a twin.
  const duplicateOf =
    error instanceof ApiError && error.status === 409 ? ((error.body as { duplicateOf?: string } | undefined)?.duplicateOf ?? undefined) : undefined

  const submit = async (choice: { externalAudienceId?: string; allowDuplicate?: boolean } = {}) => {
    setBusy(true)
    setError(undefined)
    try {
      const body: Record<string, unknown> = { sendTrack, sendIdentify, enterEvent, exitEvent }
      if (advertiserId) {
        body.advertiserId = advertiserId
        body.advertiserIds = [advertiserId, ...alsoTo.filter((a) => a !== advertiserId)]
      }
      const id = choice.externalAudienceId ?? externalId.trim()
      if (id && id !== c?.externalAudienceId) body.externalAudienceId = id
      if (name.trim()) body.name = name.trim()
      if (choice.allowDuplicate) body.allowDuplicate = true
      await api('PUT', `/api/destinations/${d.id}/audiences/${encodeURIComponent(props.audienceKey)}`, body)
      await props.onSaved()
    } catch (err) {
      setError(err instanceof ApiError ? err : errorText(err))
    } finally {
      setBusy(false)
    }
  }
  const save = (e: FormEvent) => {
    e.preventDefault()
    void submit()
  }

  return (
    <SidePanel title={`${c ? 'Edit Settings' : 'Add Destination'}: ${d.name}`} onClose={props.onClose}>
      <p>
        Audience <strong>{props.audienceName ?? props.audienceKey}</strong> (<code>{props.audienceKey}</code>) → {d.name}
      </p>
      <form onSubmit={save} className="form">
        <div className="switch-row">
          <Switch label="Send Track" showLabel checked={sendTrack} onChange={setSendTrack} />
        </div>
        <p className="hint">Send a track event when a user enters or exits the audience (what the mappings&apos; default triggers expect).</p>
        <div className="switch-row">
          <Switch label="Send Identify" showLabel checked={sendIdentify} onChange={setSendIdentify} />
        </div>
        <p className="hint">Send an identify call carrying the audience trait instead (or as well).</p>

        <label htmlFor="panel-enter">Audience Entered event name</label>
        <input id="panel-enter" value={enterEvent} onChange={(e) => setEnterEvent(e.target.value)} aria-describedby="panel-events-hint panel-enter-error" />
        <ErrorText id="panel-enter-error">{fieldError('enterEvent')}</ErrorText>
        <label htmlFor="panel-exit">Audience Exited event name</label>
        <input id="panel-exit" value={exitEvent} onChange={(e) => setExitEvent(e.target.value)} aria-describedby="panel-events-hint panel-exit-error" />
        <ErrorText id="panel-exit-error">{fieldError('exitEvent')}</ErrorText>
        <p id="panel-events-hint" className="hint">
          If you change these names, change the triggers of the Add to Audience / Remove from Audience mappings to match.
        </p>

        <label htmlFor="panel-advertiser">Advertiser ID</label>
        <select
          id="panel-advertiser"
          value={advertiserId}
          onChange={(e) => setAdvertiserId(e.target.value)}
          aria-describedby="panel-advertiser-hint panel-advertiser-error"
        >
          {d.advertiserIds.length === 0 && <option value="">No authorised advertiser: connect TikTok in Settings</option>}
          {d.advertiserIds.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name ? `${a.name} (${a.id})` : a.id}
            </option>
          ))}
        </select>
        <p id="panel-advertiser-hint" className="hint">
          The TikTok ad account that receives this audience, from the advertisers you authorised.
        </p>
        <ErrorText id="panel-advertiser-error">{fieldError('advertiserId')}</ErrorText>
        {others.length > 0 && (
          <fieldset className="advertiser-fanout" aria-describedby="panel-fanout-hint panel-fanout-error">
            <legend>Also send to these advertisers</legend>
            {others.map((a) => (
              <label key={a.id} className="checkbox">
                <input
                  type="checkbox"
                  checked={alsoTo.includes(a.id)}
                  onChange={(e) => setAlsoTo(e.target.checked ? [...alsoTo, a.id] : alsoTo.filter((x) => x !== a.id))}
                />{' '}
                {a.name ? `${a.name} (${a.id})` : a.id}
              </label>
            ))}
            <p id="panel-fanout-hint" className="hint">
              Each advertiser gets its own TikTok audience{d.mode === 'native' ? ' (created on save, or the one of this name it already has)' : ''}, and every
              change is delivered to each; one advertiser failing does not hold up the others.
            </p>
            <ErrorText id="panel-fanout-error">{fieldError('advertiserIds')}</ErrorText>
          </fieldset>
        )}
        {c && c.targets.length > 1 && <AdvertiserTargets connection={c} />}

        <Notice kind="info">
          <strong>Looking for &quot;ID Type&quot;?</strong> Segment&apos;s page asks native users for an ID Type. TikTok has dropped it from audience creation:
          the identifier types sent follow from the mappings&apos; <em>Send Email?</em>, <em>Send Phone Number?</em> and <em>Send Mobile Advertising ID?</em>{' '}
          fields, so there is nothing to choose here.
        </Notice>

        {d.mode === 'native' && (
          <>
            <label htmlFor="panel-name">TikTok audience name</label>
            <input id="panel-name" value={name} onChange={(e) => setName(e.target.value)} placeholder={props.audienceKey} aria-describedby="panel-name-error" />
            <ErrorText id="panel-name-error">{fieldError('name')}</ErrorText>
            <label htmlFor="panel-external">Existing TikTok audience ID (optional)</label>
            <input
              id="panel-external"
              value={externalId}
              onChange={(e) => setExternalId(e.target.value)}
              inputMode="numeric"
              aria-describedby="panel-external-hint panel-external-error"
            />
            <p id="panel-external-hint" className="hint">
              Leave empty and a new Partner audience is created on TikTok when you save. Give an id to reuse an audience you own (ownership is checked).
            </p>
            {duplicateOf ? (
              <div role="alert" className="duplicate-choice">
                <p>{error instanceof ApiError ? error.message : ''}</p>
                <button type="button" className="primary" disabled={busy} onClick={() => void submit({ externalAudienceId: duplicateOf })}>
                  Use existing audience {duplicateOf}
                </button>{' '}
                <button type="button" disabled={busy} onClick={() => void submit({ allowDuplicate: true })}>
                  Create another with the same name
                </button>
              </div>
            ) : (
              <ErrorText id="panel-external-error">{fieldError('externalAudienceId')}</ErrorText>
            )}
          </>
        )}
        <p className="hint">{DELAY_NOTE}</p>
        <ErrorText>{otherError}</ErrorText>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Save Settings
          </button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </SidePanel>
  )
}
