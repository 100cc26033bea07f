/** One destination: Segment's tabs Settings, Mappings, Audiences, Event Delivery. */
import { useRef, useState, type KeyboardEvent } from 'react'
import { api, errorText, type ConsoleInfo, type Destination } from '../api'
import { Link, navigate } from '../router'
import { ErrorText, Notice, useLoad } from '../ui'
import { AudiencesTab } from './AudiencesTab'
import { DeliveryTab } from './DeliveryTab'
import { destinationState } from './Destinations'
import { MappingsTab } from './MappingsTab'
import { SettingsTab } from './SettingsTab'

const TABS = [
  { key: 'settings', label: 'Settings' },
  { key: 'mappings', label: 'Mappings' },
  { key: 'audiences', label: 'Audiences' },
  { key: 'delivery', label: 'Event Delivery' }
]

export function DestinationPage({ id, tab, rest, info }: { id: number; tab: string; rest: string[]; info: ConsoleInfo | undefined }) {
  const { data: destination, error, reload } = useLoad(() => api<Destination>('GET', `/api/destinations/${id}`), [id])
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([])
  const current = TABS.some((t) => t.key === tab) ? tab : 'settings'

  // Arrow keys move between tabs (WAI-ARIA tabs pattern).
  const onKey = (e: KeyboardEvent, i: number) => {
    const next = e.key === 'ArrowRight' ? (i + 1) % TABS.length : e.key === 'ArrowLeft' ? (i + TABS.length - 1) % TABS.length : -1
    if (next < 0) return
    e.preventDefault()
    tabRefs.current[next]?.focus()
    navigate(`/destinations/${id}/${TABS[next]?.key ?? 'settings'}`)
  }

  if (error) return <ErrorText>{error}</ErrorText>
  if (!destination) return <p role="status">Loading destination…</p>
  return (
    <section aria-labelledby="destination-title">
      <p className="breadcrumb">
        <Link href="/destinations">Destinations</Link> / {destination.name}
      </p>
      <div className="page-head">
        <h1 id="destination-title">{destination.name}</h1>
        <span className="muted">
          TikTok Audiences · {destination.mode === 'native' ? 'Native' : 'Legacy'} instance ·{' '}
          <span className={`pill pill-${destinationState(destination).toLowerCase()}`}>{destinationState(destination)}</span>
        </span>
      </div>
      {destination.demo && <DemoNotice destination={destination} />}
      <div role="tablist" aria-label="Destination sections" className="tabs">
        {TABS.map((t, i) => (
          <button
            key={t.key}
            ref={(el) => {
              tabRefs.current[i] = el
            }}
            type="button"
            role="tab"
            id={`tab-${t.key}`}
            aria-selected={current === t.key}
            aria-controls={`panel-${t.key}`}
            tabIndex={current === t.key ? 0 : -1}
            onClick={() => navigate(`/destinations/${id}/${t.key}`)}
            onKeyDown={(e) => onKey(e, i)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${current}`} aria-labelledby={`tab-${current}`} className="tab-panel">
        {current === 'settings' && <SettingsTab destination={destination} info={info} onChanged={reload} />}
        {current === 'mappings' && <MappingsTab destination={destination} rest={rest} />}
        {current === 'audiences' && <AudiencesTab destination={destination} />}
        {current === 'delivery' && <DeliveryTab destination={destination} />}
      </div>
    </section>
  )
}

/**
 * The demo destination (seeded on first start with the built-in emulator) says what it does and
 * offers to go: once the user has a destination of their own it connects no more audiences.
 */
function DemoNotice({ destination: d }: { destination: Destination }) {
  const [confirming, setConfirming] = useState(false)
  const [error, setError] = useState<string>()
  const remove = async () => {
    try {
      await api('DELETE', `/api/destinations/${d.id}`)
      navigate('/destinations')
    } catch (err) {
      setError(errorText(err))
    }
  }
  return (
    <Notice kind={d.autoConnecting ? 'info' : 'warning'}>
      <p>
        {d.autoConnecting
          ? 'This is the demo destination for the built-in TikTok emulator: it connects every audience it sees to an emulated TikTok audience, until you add a destination of your own.'
          : 'This is the demo destination for the built-in TikTok emulator. You have a destination of your own, so it no longer connects audiences by itself (it would make a second TikTok audience of each of yours); audiences already connected to it still get their events.'}
      </p>
      {confirming ? (
        <p>
          Remove the demo destination with its mappings, audience connections and queue?{' '}
          <button type="button" className="primary" onClick={remove}>
            Remove
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </p>
      ) : (
        <p>
          <button type="button" onClick={() => setConfirming(true)}>
            Remove demo destination
          </button>
        </p>
      )}
      <ErrorText>{error}</ErrorText>
    </Notice>
  )
}
