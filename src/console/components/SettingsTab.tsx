/**
 * Settings: name, TikTok connection (Connect TikTok / Reauthorize via OAuth, or a pasted token),
 * authorised advertisers, normalisation, default phone region, Enable Destination, Save Changes.
 */
import { useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, errorText, type ConsoleInfo, type Destination, type Source } from '../api'
import { useLocation } from '../router'
import { ErrorText, Notice, Switch, useLoad } from '../ui'
import { MigrateToNative } from './MigrateToNative'

/** One status, agreeing with the page's pill: a paused destination is not "Connected". */
function connectionStatus(d: Destination): string {
  if (d.status === 'paused') return 'Paused: TikTok rejected the access token (Reauthorize below)'
  return d.connected ? 'Connected to TikTok' : 'Not connected'
}

export function SettingsTab({ destination: d, info, onChanged }: { destination: Destination; info: ConsoleInfo | undefined; onChanged(): Promise<void> }) {
  const url = useLocation()
  const sources = useLoad(() => api<Source[]>('GET', '/api/sources'), [])
  const [name, setName] = useState(d.name)
  const [normalization, setNormalization] = useState(d.normalization)
  const [region, setRegion] = useState(d.defaultPhoneRegion ?? '')
  const [batchSize, setBatchSize] = useState(String(d.batchSize))
  const [autoConnect, setAutoConnect] = useState(d.autoConnectAudiences)
  const [enabled, setEnabled] = useState(d.enabled)
  const [enableRefusal, setEnableRefusal] = useState<string>()
  // Switched on but refused: Save Changes asks again, so a refusal is never followed by "Changes saved."
  const [enableWanted, setEnableWanted] = useState(false)
  const [error, setError] = useState<ApiError | string>()
  const [saved, setSaved] = useState<string>()
  const [token, setToken] = useState('')
  const [tokenError, setTokenError] = useState<string>()

  useEffect(() => {
    setName(d.name)
    setNormalization(d.normalization)
    setRegion(d.defaultPhoneRegion ?? '')
    setBatchSize(String(d.batchSize))
    setAutoConnect(d.autoConnectAudiences)
    setEnabled(d.enabled)
    setEnableWanted(false)
  }, [d])

  const fieldError = (f: string) => (error instanceof ApiError && error.field === f ? error.message : undefined)

  // Like Segment: switching Enable Destination on runs the auth test at once and says why it cannot.
  const toggleEnabled = async (on: boolean) => {
    setEnableRefusal(undefined)
    setSaved(undefined)
    setEnableWanted(on)
    if (!on) return setEnabled(false)
    try {
      const auth = await api<{ ok: boolean; message?: string }>('POST', `/api/destinations/${d.id}/test-auth`)
      if (auth.ok) setEnabled(true)
      else setEnableRefusal(auth.message ?? 'The authentication test with TikTok failed.')
    } catch (err) {
      setEnableRefusal(errorText(err))
    }
  }

  const save = async (e: FormEvent) => {
    e.preventDefault()
    setError(undefined)
    setSaved(undefined)
    try {
      await api('PATCH', `/api/destinations/${d.id}`, {
        name,
        normalization,
        defaultPhoneRegion: region.trim() ? region.trim().toUpperCase() : null,
        batchSize: Number(batchSize),
        autoConnectAudiences: autoConnect,
        enabled: enabled || enableWanted
      })
      setSaved('Changes saved.')
      await onChanged()
    } catch (err) {
      if (err instanceof ApiError && err.field === 'enabled') {
        setEnableRefusal(err.message)
        setEnabled(false)
        setEnableWanted(true)
      } else setError(err instanceof ApiError ? err : errorText(err))
    }
  }

  const saveToken = async () => {
    setTokenError(undefined)
    try {
      await api('POST', `/api/destinations/${d.id}/token`, { accessToken: token })
      setToken('')
      await onChanged()
    } catch (err) {
      setTokenError(errorText(err))
    }
  }

  const source = sources.data?.find((s) => s.id === d.sourceId)
  const oauthUrl = `/oauth/tiktok/start?destination=${d.id}`
  const otherError =
    error instanceof ApiError ? (['name', 'normalization', 'defaultPhoneRegion', 'batchSize'].includes(error.field ?? '') ? undefined : error.message) : error

  return (
    <div className="settings">
      {url.searchParams.get('connected') && d.connected && (
        <Notice kind="success">TikTok connected: the token is stored (encrypted) with {d.advertiserIds.length} authorised advertiser(s).</Notice>
      )}
      {d.status === 'paused' && (
        <Notice kind="error">
          <strong>Delivery is paused.</strong> {d.statusReason ?? 'TikTok refused the access token.'} To fix it, click <strong>Reauthorize</strong> below (or
          paste a new access token). Nothing queued is lost: delivery resumes from where it stopped once TikTok accepts the new token.
        </Notice>
      )}

      <section aria-labelledby="connection-title" className="card">
        <h2 id="connection-title">Connection</h2>
        {info?.emulator && (
          <Notice kind="warning">
            This service talks to the <strong>built-in TikTok emulator</strong> (no TikTok app is configured): Connect TikTok opens the emulator&apos;s consent
            page, and audiences are created in the emulator, not in your TikTok Ads Manager.
          </Notice>
        )}
        <p>
          Status: <strong data-testid="connection-status">{connectionStatus(d)}</strong>
        </p>
        <div className="actions">
          <a className="button primary" href={oauthUrl} aria-describedby="oauth-hint">
            {d.connected ? 'Reauthorize' : 'Connect TikTok'}
          </a>
        </div>
        <p id="oauth-hint" className="hint">
          Opens {info?.emulator ? "the TikTok emulator's" : "TikTok's"} consent page, where you authorise the advertiser accounts this destination may use.
          {info && !info.oauthConfigured && ' No TikTok app is configured (TIKTOK_APP_ID / TIKTOK_APP_SECRET): paste a long-lived access token instead.'}
        </p>
        <h3>Authorised advertisers</h3>
        {d.advertiserIds.length === 0 ? (
          <p>None yet: connect TikTok first.</p>
        ) : (
          <ul aria-label="Authorised advertisers">
            {d.advertiserIds.map((a) => (
              <li key={a.id}>
                {a.name ?? 'Advertiser'} <code>{a.id}</code>
              </li>
            ))}
          </ul>
        )}
        <details>
          <summary>Or paste a long-lived access token</summary>
          <label htmlFor="access-token">Access token</label>
          <input
            id="access-token"
            type="password"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-describedby="access-token-error"
          />
          <ErrorText id="access-token-error">{tokenError}</ErrorText>
          <button type="button" onClick={saveToken} disabled={!token.trim()}>
            Save Token
          </button>
        </details>
      </section>

      <form onSubmit={save} className="card form" aria-labelledby="settings-title">
        <h2 id="settings-title">Destination settings</h2>
        <label htmlFor="settings-name">Name</label>
        <input id="settings-name" value={name} onChange={(e) => setName(e.target.value)} required aria-describedby="settings-name-error" />
        <ErrorText id="settings-name-error">{fieldError('name')}</ErrorText>

        <p className="hint">
          Instance: <strong>{d.mode === 'native' ? 'Native' : 'Legacy'}</strong>
          {source && (
            <>
              {' '}
              · Source: <strong>{source.name}</strong> (write key <code>{source.writeKey}</code>: send events to <code>/v1/track</code>,{' '}
              <code>/v1/identify</code> or <code>/v1/batch</code> with it)
            </>
          )}
        </p>

        <label htmlFor="settings-normalization">Normalization policy</label>
        <select
          id="settings-normalization"
          value={normalization}
          onChange={(e) => setNormalization(e.target.value as Destination['normalization'])}
          aria-describedby="normalization-hint"
        >
          <option value="recommended">Recommended: repair what could never match (trim, E.164 phones)</option>
          <option value="segment">Segment: byte-identical to Segment&apos;s destination</option>
        </select>
        <p id="normalization-hint" className="hint">
          Fixed per destination so an exit hashes exactly like the matching entry did. Pre-hashed values (64 hex characters) are never hashed twice.
        </p>

        <label htmlFor="settings-region">Default phone region</label>
        <input
          id="settings-region"
          value={region}
          onChange={(e) => setRegion(e.target.value)}
          maxLength={2}
          aria-describedby="settings-region-hint settings-region-error"
        />
        <p id="settings-region-hint" className="hint">
          Two-letter country code (new destinations start with US) used to format national phone numbers to E.164 (Recommended policy).
          {region.trim() === '' && ' Empty: none — phone numbers without a +country code are dropped, and counted in Event Delivery.'}
        </p>
        <ErrorText id="settings-region-error">{fieldError('defaultPhoneRegion')}</ErrorText>

        <label htmlFor="settings-batch">Batch size (rows per TikTok request)</label>
        <input
          id="settings-batch"
          type="number"
          min={1}
          max={10000}
          value={batchSize}
          onChange={(e) => setBatchSize(e.target.value)}
          aria-describedby="settings-batch-error"
        />
        <ErrorText id="settings-batch-error">{fieldError('batchSize')}</ErrorText>

        {d.mode === 'native' && (
          <div className="switch-row">
            <Switch label="Auto-connect audiences first seen in traffic" showLabel checked={autoConnect} onChange={setAutoConnect} />
          </div>
        )}

        <div className="switch-row enable-row">
          <Switch label="Enable Destination" showLabel checked={enabled} onChange={toggleEnabled} describedBy="enable-refusal" />
        </div>
        <ErrorText id="enable-refusal">{enableRefusal}</ErrorText>

        <ErrorText>{otherError}</ErrorText>
        {saved && <Notice kind="success">{saved}</Notice>}
        <div className="actions">
          <button type="submit" className="primary">
            Save Changes
          </button>
        </div>
      </form>
      {d.mode === 'legacy' && <MigrateToNative destination={d} onMigrated={onChanged} />}
    </div>
  )
}
