/** Small accessible building blocks shared by the screens. */
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from 'react'
import { errorText } from './api'

/** An on/off control announced as a switch; `label` is its accessible name. */
export function Switch(props: {
  checked: boolean
  onChange(checked: boolean): void
  label: string
  showLabel?: boolean
  disabled?: boolean
  describedBy?: string
}) {
  const id = useId()
  return (
    <span className="switch-wrap">
      <button
        id={id}
        type="button"
        role="switch"
        className="switch"
        aria-checked={props.checked}
        aria-label={props.showLabel ? undefined : props.label}
        aria-describedby={props.describedBy}
        disabled={props.disabled}
        onClick={() => props.onChange(!props.checked)}
      >
        <span className="switch-knob" aria-hidden="true" />
      </button>
      {props.showLabel && <label htmlFor={id}>{props.label}</label>}
    </span>
  )
}

export function ErrorText({ id, children }: { id?: string; children: ReactNode }) {
  if (!children) return null
  return (
    <p id={id} className="error-text" role="alert">
      {children}
    </p>
  )
}

export function Notice({ kind = 'info', children, role }: { kind?: 'info' | 'warning' | 'error' | 'success'; children: ReactNode; role?: string }) {
  return (
    <div className={`notice notice-${kind}`} role={role ?? (kind === 'error' ? 'alert' : 'status')}>
      {children}
    </div>
  )
}

/** JSON shown for reading, in a labelled region a screen reader can find. */
export function JsonBlock({ label, value }: { label: string; value: unknown }) {
  const id = useId()
  return (
    <section className="json-block" aria-labelledby={id}>
      <h4 id={id}>{label}</h4>
      <pre tabIndex={0}>{value === undefined ? '—' : JSON.stringify(value, null, 2)}</pre>
    </section>
  )
}

/** A side panel: labelled, traps nothing but takes focus on open, closes with Escape, gives focus back. */
export function SidePanel({ title, onClose, children }: { title: string; onClose(): void; children: ReactNode }) {
  const id = useId()
  const ref = useRef<HTMLElement>(null)
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null
    ref.current?.querySelector<HTMLElement>('input, select, button, textarea')?.focus()
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose()
    addEventListener('keydown', onKey)
    return () => {
      removeEventListener('keydown', onKey)
      before?.focus?.()
    }
  }, [onClose])
  return (
    <div className="panel-backdrop">
      <aside ref={ref} className="side-panel" role="dialog" aria-modal="true" aria-labelledby={id}>
        <div className="panel-head">
          <h2 id={id}>{title}</h2>
          <button type="button" className="link-button" onClick={onClose} aria-label="Close panel">
            ✕
          </button>
        </div>
        {children}
      </aside>
    </div>
  )
}

/** Loads data once (and on `reload()`), keeping the last value while reloading. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[]
): { data: T | undefined; error: string | undefined; loading: boolean; reload(): Promise<void> } {
  const [data, setData] = useState<T>()
  const [error, setError] = useState<string>()
  const [loading, setLoading] = useState(true)
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps)
  const reload = useCallback(async () => {
    setLoading(true)
    try {
      setData(await run())
      setError(undefined)
    } catch (err) {
      setError(errorText(err))
    } finally {
      setLoading(false)
    }
  }, [run])
  useEffect(() => {
    void reload()
  }, [reload])
  return { data, error, loading, reload }
}

export const formatTime = (ms: number | null | undefined): string => (ms ? new Date(ms).toLocaleString() : '—')
export const formatNumber = (n: number): string => n.toLocaleString('en-US')
