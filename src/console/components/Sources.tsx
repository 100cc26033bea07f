/**
 * Sources (who sends events, by write key) and, per source, "Connect from Segment": the exact
 * values to paste into Segment's Webhook Audiences destination (Engage → Engage Settings →
 * Destinations → Webhook Audiences) and per-audience extras. The shared secret is shown once,
 * when it is generated; afterwards only whether one is set. Warehouse syncs are listed first (Syncs.tsx).
 */
import { useState } from 'react'
import { api, errorText, type SegmentConnect, type Source } from '../api'
import { ErrorText, Notice, useLoad } from '../ui'
import { SyncsSection } from './Syncs'

function Copyable({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value)
      setCopied(true)
    } catch {
      setCopied(false)
    }
  }
  return (
    <div className="copyable">
      <dt>{label}</dt>
      <dd>
        <code>{value}</code>{' '}
        <button type="button" className="link-button" onClick={copy} aria-label={`Copy ${label}`}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </dd>
    </div>
  )
}

function SegmentPanel({ source }: { source: Source }) {
  const { data, error, reload } = useLoad(() => api<SegmentConnect>('GET', `/api/sources/${source.id}/segment`), [source.id])
  const [secret, setSecret] = useState<string>()
  const [actionError, setActionError] = useState<string>()
  const generate = async () => {
    setActionError(undefined)
    try {
      setSecret((await api<{ sharedSecret: string }>('PUT', `/api/sources/${source.id}/shared-secret`, {})).sharedSecret)
      await reload()
    } catch (err) {
      setActionError(errorText(err))
    }
  }
  const remove = async () => {
    setActionError(undefined)
    try {
      await api('DELETE', `/api/sources/${source.id}/shared-secret`)
      setSecret(undefined)
      await reload()
    } catch (err) {
      setActionError(errorText(err))
    }
  }
  if (error) return <ErrorText>{error}</ErrorText>
  if (!data) return <p role="status">Loading…</p>
  const { createAudienceUrl, getAudienceUrl } = data
  // The three URLs come together: all of them, or none when the source has no write key.
  if (!data.webhookUrl || !createAudienceUrl || !getAudienceUrl)
    return <Notice kind="warning">This source has no write key, so Segment cannot authenticate. Create a source with a write key.</Notice>
  return (
    <section aria-labelledby={`segment-${source.id}`} className="segment-connect">
      <h3 id={`segment-${source.id}`}>Connect from Segment</h3>
      <p>
        In Segment: <strong>Engage → Engage Settings → Destinations → Add destination → Webhook Audiences</strong>. Paste these into its settings:
      </p>
      <dl>
        <Copyable label="Create Audience URL" value={createAudienceUrl} />
        <Copyable label="Get Audience URL" value={getAudienceUrl} />
        {secret ? <Copyable label="Shared Secret" value={secret} /> : null}
      </dl>
      {secret && (
        <Notice kind="warning">Copy the shared secret now: it is not shown again. Requests without Segment's matching X-Signature are refused.</Notice>
      )}
      {!secret && (
        <p>
          Shared Secret: {data.sharedSecretSet ? 'set (signed requests required)' : 'not set (requests are not signed)'}.{' '}
          <button type="button" onClick={generate}>
            {data.sharedSecretSet ? 'Generate a new shared secret' : 'Generate shared secret'}
          </button>{' '}
          {data.sharedSecretSet && (
            <button type="button" onClick={remove}>
              Remove shared secret
            </button>
          )}
        </p>
      )}
      <ErrorText>{actionError}</ErrorText>
      <p>
        In the destination's <strong>Send</strong> mapping, set the URL to:
      </p>
      <dl>
        <Copyable label="Webhook URL" value={data.webhookUrl} />
      </dl>
      <p>
        When you connect an audience, set its <strong>Extra JSON fields</strong> (extras) to name the TikTok destination and advertiser:
      </p>
      <dl>
        <Copyable label="Extras" value={data.extrasExample} />
      </dl>
      {data.destinations.length > 1 && (
        <p>
          This source's TikTok destinations: {data.destinations.map((d) => `${d.name} (advertisers ${d.advertiserIds.join(', ') || 'none yet'})`).join('; ')}.
        </p>
      )}
      {data.destinations.length === 0 && (
        <Notice kind="warning">No native TikTok destination uses this source yet: create one first, or Create Audience will be refused.</Notice>
      )}
    </section>
  )
}

export function SourcesPage() {
  const { data, error } = useLoad(() => api<Source[]>('GET', '/api/sources'), [])
  return (
    <section aria-labelledby="sources-title">
      <div className="page-head">
        <h1 id="sources-title">Sources</h1>
      </div>
      <ErrorText>{error}</ErrorText>
      <SyncsSection />
      {data?.map((s) => (
        <article key={s.id} className="card">
          <h2>{s.name}</h2>
          <p>
            Write key: <code>{s.writeKey ?? '—'}</code>
          </p>
          <SegmentPanel source={s} />
        </article>
      ))}
    </section>
  )
}
