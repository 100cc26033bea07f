/**
 * "Select mappings": one control per field of the action, generated from its definition (label,
 * description, type, default, required, hidden, dynamic) — nothing here knows a particular action.
 * A field's value is an event path (`@path`), any mapping-kit directive (JSON), a fixed value, or
 * not set. Dynamic fields (advertisers, audiences) offer the choices TikTok returns.
 */
import { useEffect, useId, useState } from 'react'
import { api, errorText, type FieldDefinition } from '../api'

type Source = 'path' | 'directive' | 'value' | 'unset'

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

export function sourceOf(v: unknown): Source {
  if (v === undefined) return 'unset'
  if (isObject(v) && Object.keys(v).length === 1 && typeof v['@path'] === 'string') return 'path'
  if (isObject(v) || Array.isArray(v)) return 'directive'
  return 'value'
}

/** The mapping a new mapping starts from: every default of the action. */
export function defaultMapping(fields: FieldDefinition[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((f) => f.default !== undefined).map((f) => [f.key, f.default]))
}

interface Choice {
  label: string
  value: string
}

function FieldControl(props: {
  field: FieldDefinition
  value: unknown
  onChange(v: unknown): void
  error?: string
  choices?: { list: Choice[]; error?: string; loading: boolean; refresh(): void }
}) {
  const { field: f, value, onChange } = props
  const id = useId()
  const [source, setSource] = useState<Source>(() => (value === undefined && f.required ? 'value' : sourceOf(value)))
  const [directiveText, setDirectiveText] = useState(() => (sourceOf(value) === 'directive' ? JSON.stringify(value, null, 2) : ''))
  const [directiveError, setDirectiveError] = useState<string>()

  useEffect(() => {
    // Keep the view in step when the value is replaced from outside (e.g. a different action).
    const s = sourceOf(value)
    if (s !== 'unset' && s !== source) setSource(s)
    if (s === 'directive') setDirectiveText(JSON.stringify(value, null, 2))
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value])

  const changeSource = (s: Source) => {
    setSource(s)
    setDirectiveError(undefined)
    if (s === 'unset') onChange(undefined)
    else if (s === 'path') onChange({ '@path': sourceOf(value) === 'path' ? (value as { '@path': string })['@path'] : '$.' })
    else if (s === 'value') onChange(f.type === 'boolean' ? (typeof value === 'boolean' ? value : false) : sourceOf(value) === 'value' ? value : undefined)
    else {
      const start = value === undefined ? { '@path': '$.' } : value
      setDirectiveText(JSON.stringify(start, null, 2))
      onChange(start)
    }
  }

  const inputId = `${id}-input`
  const describedBy = [`${id}-desc`, props.error || directiveError ? `${id}-error` : ''].filter(Boolean).join(' ')
  const invalid = props.error || directiveError ? true : undefined

  let control
  if (source === 'path') {
    control = (
      <input
        id={inputId}
        className="mono"
        value={(value as { '@path'?: string })?.['@path'] ?? ''}
        onChange={(e) => onChange({ '@path': e.target.value })}
        placeholder="$.context.traits.email"
        aria-describedby={describedBy}
        aria-invalid={invalid}
        spellCheck={false}
      />
    )
  } else if (source === 'directive') {
    control = (
      <textarea
        id={inputId}
        className="mono"
        rows={Math.min(10, directiveText.split('\n').length + 1)}
        value={directiveText}
        onChange={(e) => {
          setDirectiveText(e.target.value)
          try {
            onChange(JSON.parse(e.target.value))
            setDirectiveError(undefined)
          } catch (err) {
            setDirectiveError(`Not valid JSON yet: ${errorText(err)}`)
          }
        }}
        aria-describedby={describedBy}
        aria-invalid={invalid}
        spellCheck={false}
      />
    )
  } else if (source === 'value' && f.type === 'boolean') {
    control = (
      <select
        id={inputId}
        value={value === true ? 'true' : 'false'}
        onChange={(e) => onChange(e.target.value === 'true')}
        aria-describedby={describedBy}
        aria-invalid={invalid}
      >
        <option value="true">Yes</option>
        <option value="false">No</option>
      </select>
    )
  } else if (source === 'value' && props.choices && props.choices.list.length > 0) {
    const list = props.choices.list
    const current = typeof value === 'string' ? value : ''
    control = (
      <select
        id={inputId}
        value={current}
        onChange={(e) => onChange(e.target.value || undefined)}
        aria-describedby={describedBy}
        aria-invalid={invalid}
        required={f.required}
      >
        <option value="">Select {f.label}</option>
        {current && !list.some((c) => c.value === current) && <option value={current}>{current}</option>}
        {list.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label === c.value ? c.value : `${c.label} (${c.value})`}
          </option>
        ))}
      </select>
    )
  } else if (source === 'value') {
    const numeric = f.type === 'number' || f.type === 'integer'
    control = (
      <input
        id={inputId}
        type={numeric ? 'number' : 'text'}
        value={value === undefined || value === null ? '' : String(value)}
        onChange={(e) => onChange(e.target.value === '' ? undefined : numeric ? Number(e.target.value) : e.target.value)}
        aria-describedby={describedBy}
        aria-invalid={invalid}
        required={f.required}
      />
    )
  } else {
    control = (
      <p id={inputId} className="hint">
        Not set{f.required ? ' (required: choose how to fill it)' : ''}.
      </p>
    )
  }

  return (
    <div className={`mapping-field${invalid ? ' has-error' : ''}`}>
      <div className="mapping-field-head">
        <label htmlFor={inputId}>{f.label}</label>
        {f.required && (
          <span className="required" aria-hidden="true">
            *
          </span>
        )}
        <code className="field-key">{f.key}</code>
        <select aria-label={`${f.label} value source`} value={source} onChange={(e) => changeSource(e.target.value as Source)}>
          <option value="path">Event path</option>
          <option value="directive">Directive (mapping-kit JSON)</option>
          <option value="value">{props.choices ? 'Choose from TikTok' : 'Fixed value'}</option>
          {!f.required && <option value="unset">Not set</option>}
        </select>
      </div>
      <p id={`${id}-desc`} className="hint">
        {f.required && 'Required. '}
        {f.description}{' '}
        <span className="muted">
          Type: {f.type.toUpperCase()}
          {f.multiple ? ' (list)' : ''}
        </span>
      </p>
      {control}
      {props.choices && source === 'value' && (
        <p className="hint">
          {props.choices.loading
            ? 'Loading choices from TikTok…'
            : props.choices.error
              ? `TikTok could not list choices: ${props.choices.error}`
              : `${props.choices.list.length} choices from TikTok.`}{' '}
          <button type="button" className="link-button" onClick={props.choices.refresh}>
            Refresh {f.label} choices
          </button>
        </p>
      )}
      {(props.error || directiveError) && (
        <p id={`${id}-error`} className="error-text" role="alert">
          {props.error ?? directiveError}
        </p>
      )}
    </div>
  )
}

/** Choices of one dynamic field, asked from the service with the mapping's current values. */
function useChoices(destinationId: number, action: string, field: FieldDefinition, mapping: Record<string, unknown>, dependsOn: unknown) {
  const [state, setState] = useState<{ list: Choice[]; error?: string; loading: boolean }>({ list: [], loading: field.dynamic })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    if (!field.dynamic) return
    let stale = false
    setState((s) => ({ ...s, loading: true }))
    api<{ choices: Choice[]; error?: { message: string } }>(
      'POST',
      `/api/destinations/${destinationId}/actions/${action}/fields/${field.key}/choices`,
      mapping
    ).then(
      (r) => !stale && setState({ list: r.choices ?? [], error: r.error?.message, loading: false }),
      (err) => !stale && setState({ list: [], error: errorText(err), loading: false })
    )
    return () => {
      stale = true
    }
    // Re-ask when what the choices depend on changes (the advertiser of an audience list).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [destinationId, action, field.key, field.dynamic, tick, JSON.stringify(dependsOn)])
  return field.dynamic ? { ...state, refresh: () => setTick((t) => t + 1) } : undefined
}

function DynamicAwareField(props: {
  destinationId: number
  action: string
  field: FieldDefinition
  mapping: Record<string, unknown>
  onChange(v: unknown): void
  error?: string
}) {
  // Dynamic choices may depend on other fixed values (audiences of the chosen advertiser).
  const fixedValues = Object.fromEntries(Object.entries(props.mapping).filter(([k, v]) => k !== props.field.key && sourceOf(v) === 'value'))
  const choices = useChoices(props.destinationId, props.action, props.field, props.mapping, fixedValues)
  return <FieldControl field={props.field} value={props.mapping[props.field.key]} onChange={props.onChange} error={props.error} choices={choices} />
}

export function FieldMappingForm(props: {
  destinationId: number
  action: string
  fields: FieldDefinition[]
  mapping: Record<string, unknown>
  onChange(m: Record<string, unknown>): void
  errors: Record<string, string>
}) {
  const [showHidden, setShowHidden] = useState(false)
  const visible = props.fields.filter((f) => showHidden || !f.hidden)
  const hiddenCount = props.fields.filter((f) => f.hidden).length
  const set = (key: string, v: unknown) => {
    const next = { ...props.mapping }
    if (v === undefined) delete next[key]
    else next[key] = v
    props.onChange(next)
  }
  return (
    <fieldset className="field-mapping">
      <legend>Select mappings</legend>
      <p className="hint">
        Each field starts from the action&apos;s default. Use an event path such as <code>$.context.traits.email</code>, a mapping-kit directive (
        <code>@if</code>, <code>@template</code>, <code>@path</code>…) as JSON, or a fixed value.
      </p>
      {visible.map((f) => (
        <DynamicAwareField
          key={`${props.action}.${f.key}`}
          destinationId={props.destinationId}
          action={props.action}
          field={f}
          mapping={props.mapping}
          onChange={(v) => set(f.key, v)}
          error={props.errors[f.key]}
        />
      ))}
      {hiddenCount > 0 && (
        <button type="button" className="link-button" aria-expanded={showHidden} onClick={() => setShowHidden(!showHidden)}>
          {showHidden ? 'Hide' : 'Show'} {hiddenCount} hidden field{hiddenCount === 1 ? '' : 's'} (set by the destination)
        </button>
      )}
    </fieldset>
  )
}
