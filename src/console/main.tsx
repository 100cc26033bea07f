/** The web console: Segment's setup flow for the TikTok Audiences destination, in Segment's words. */
import { StrictMode, useEffect, useState, type FormEvent } from 'react'
import { createRoot } from 'react-dom/client'
import { api, ApiError, errorText, setCsrfToken, whenSignedOut, type ConsoleInfo, type Stats } from './api'
import { Link, navigate, useLocation } from './router'
import { ErrorText, formatNumber } from './ui'
import { DestinationsPage, NewDestinationPage } from './components/Destinations'
import { DestinationPage } from './components/DestinationPage'
import { SourcesPage } from './components/Sources'
import { AudienceHealthBanner } from './components/AudienceHealth'
import './styles.css'

type Session = { signedIn: boolean; csrfToken?: string }

function SignIn({ onSignedIn }: { onSignedIn(s: Session): void }) {
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    try {
      onSignedIn(await api<Session>('POST', '/session', { password }))
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <main className="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to TikTok Audiences</h1>
        <p>
          Use the admin password that <code>npm start</code> printed (or the one set in <code>ADMIN_PASSWORD</code>).
        </p>
        <label htmlFor="admin-password">Admin password</label>
        <input
          id="admin-password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'sign-in-error' : undefined}
          required
          autoFocus
        />
        <ErrorText id="sign-in-error">{error}</ErrorText>
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  )
}

function StatsBar() {
  const [stats, setStats] = useState<Stats>()
  useEffect(() => {
    let stop = false
    const load = () =>
      api<Stats>('GET', '/api/stats').then(
        (s) => !stop && setStats(s),
        () => {}
      )
    void load()
    const t = setInterval(load, 3000)
    return () => {
      stop = true
      clearInterval(t)
    }
  }, [])
  if (!stats) return null
  return (
    <p className="stats-bar" aria-label="Service totals">
      <span title="Events accepted from your sources (each counted once)">Events received {formatNumber(stats.received)}</span> ·{' '}
      <span title="Changes sent to TikTok: one per event and destination it is for">
        Deliveries (one per destination): {formatNumber(stats.delivered)} delivered · {formatNumber(stats.failed)} not delivered · {formatNumber(stats.pending)}{' '}
        pending · {formatNumber(stats.retrying)} retrying now
      </span>
    </p>
  )
}

function Console({ info, onSignOut }: { info: ConsoleInfo | undefined; onSignOut(): void }) {
  const url = useLocation()
  const parts = url.pathname.split('/').filter(Boolean)

  // Back from TikTok's consent page (OAuth callback redirects to /?connected=<id>).
  useEffect(() => {
    const connected = url.searchParams.get('connected')
    if (connected && url.pathname === '/') navigate(`/destinations/${connected}/settings?connected=1`, { replace: true })
  }, [url])

  let page
  if (parts[0] === 'destinations' && parts[1] === 'new') page = <NewDestinationPage />
  else if (parts[0] === 'destinations' && parts[1])
    page = <DestinationPage id={Number(parts[1])} tab={parts[2] ?? 'settings'} rest={parts.slice(3)} info={info} />
  else if (parts[0] === 'sources') page = <SourcesPage />
  else page = <DestinationsPage />

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top-bar">
        <Link href="/destinations" className="brand">
          TikTok Audiences
        </Link>
        <nav aria-label="Main">
          <Link href="/destinations" aria-current={parts[0] !== 'sources' && (parts[0] !== 'destinations' || parts.length <= 1) ? 'page' : undefined}>
            Destinations
          </Link>
          <Link href="/sources" aria-current={parts[0] === 'sources' ? 'page' : undefined}>
            Sources
          </Link>
        </nav>
        {info?.emulator && (
          <span className="emulator-badge" title={`TikTok calls go to the built-in emulator at ${info.emulatorUrl}`}>
            TikTok emulator — not real TikTok
          </span>
        )}
        <button type="button" className="link-button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <StatsBar />
        <AudienceHealthBanner />
        {page}
      </main>
    </>
  )
}

function App() {
  const [session, setSession] = useState<Session>()
  const [info, setInfo] = useState<ConsoleInfo>()
  const [error, setError] = useState<string>()

  const accept = (s: Session) => {
    setCsrfToken(s.csrfToken ?? '')
    setSession(s)
  }
  useEffect(() => {
    whenSignedOut(() => accept({ signedIn: false }))
    api<Session>('GET', '/session').then(accept, (err) => setError(errorText(err)))
  }, [])
  useEffect(() => {
    if (session?.signedIn) api<ConsoleInfo>('GET', '/api/console/info').then(setInfo, () => {})
  }, [session?.signedIn])

  if (error) return <ErrorText>{`Cannot reach the service: ${error}`}</ErrorText>
  if (!session) return <p role="status">Loading…</p>
  if (!session.signedIn) return <SignIn onSignedIn={accept} />
  const signOut = async () => {
    try {
      await api('DELETE', '/session')
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
    }
    accept({ signedIn: false })
  }
  return <Console info={info} onSignOut={signOut} />
}

const root = document.getElementById('root')
if (!root) throw new Error('index.html has no #root element')
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>
)
