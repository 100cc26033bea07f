/**
 * "Select events to map and send": conditions on event type / event name (ALL or ANY), shown as
 * the FQL the service stores. A trigger these rows cannot express is edited as FQL directly.
 */
import { useId } from 'react'

export interface Condition {
  field: 'type' | 'event'
  op: '=' | '!='
  value: string
}
export interface TriggerState {
  conditions: Condition[]
  join: 'and' | 'or'
  /** Set when the trigger is edited as raw FQL. */
  raw: string | null
}

const CONDITION = /^\s*(type|event)\s*(!=|=)\s*"((?:[^"\\]|\\.)*)"\s*/
const JOIN = /^(and|or)\b/

export function parseTrigger(fql: string): TriggerState {
  const conditions: Condition[] = []
  let rest = fql.trim()
  let join: 'and' | 'or' | undefined
  while (rest) {
    const m = CONDITION.exec(rest)
    if (!m) return { conditions: [], join: 'and', raw: fql }
    conditions.push({ field: m[1] as Condition['field'], op: m[2] as Condition['op'], value: (m[3] ?? '').replace(/\\(.)/g, '$1') })
    rest = rest.slice(m[0].length)
    if (!rest) break
    const j = JOIN.exec(rest)
    if (!j || (join && j[1] !== join)) return { conditions: [], join: 'and', raw: fql }
    join = j[1] as 'and' | 'or'
    rest = rest.slice(j[0].length)
  }
  return { conditions, join: join ?? 'and', raw: conditions.length ? null : fql }
}

export function toFql(t: TriggerState): string {
  if (t.raw !== null) return t.raw
  return t.conditions.map((c) => `${c.field} ${c.op} "${c.value.replace(/(["\\])/g, '\\$1')}"`).join(` ${t.join} `)
}

export function TriggerEditor({ value, onChange, error }: { value: TriggerState; onChange(t: TriggerState): void; error?: string }) {
  const id = useId()
  const set = (i: number, patch: Partial<Condition>) => onChange({ ...value, conditions: value.conditions.map((c, j) => (j === i ? { ...c, ...patch } : c)) })
  return (
    <fieldset className="trigger-editor" aria-describedby={`${id}-fql ${id}-error`}>
      <legend>Select events to map and send</legend>
      {value.raw === null ? (
        <>
          {value.conditions.length > 1 && (
            <p>
              <label htmlFor={`${id}-join`}>Match </label>
              <select id={`${id}-join`} value={value.join} onChange={(e) => onChange({ ...value, join: e.target.value as 'and' | 'or' })}>
                <option value="and">ALL of the conditions</option>
                <option value="or">ANY of the conditions</option>
              </select>
            </p>
          )}
          {value.conditions.map((c, i) => (
            <div className="condition" key={i} role="group" aria-label={`Condition ${i + 1}`}>
              <select aria-label={`Condition ${i + 1} field`} value={c.field} onChange={(e) => set(i, { field: e.target.value as Condition['field'] })}>
                <option value="type">Event Type</option>
                <option value="event">Event Name</option>
              </select>
              <select aria-label={`Condition ${i + 1} operator`} value={c.op} onChange={(e) => set(i, { op: e.target.value as Condition['op'] })}>
                <option value="=">is</option>
                <option value="!=">is not</option>
              </select>
              {c.field === 'type' ? (
                <select aria-label={`Condition ${i + 1} value`} value={c.value} onChange={(e) => set(i, { value: e.target.value })}>
                  {['track', 'identify', 'page', 'screen', 'group', 'alias'].map((t) => (
                    <option key={t} value={t}>
                      {t.charAt(0).toUpperCase() + t.slice(1)}
                    </option>
                  ))}
                </select>
              ) : (
                <input aria-label={`Condition ${i + 1} value`} value={c.value} onChange={(e) => set(i, { value: e.target.value })} />
              )}
              <button type="button" className="link-button" onClick={() => onChange({ ...value, conditions: value.conditions.filter((_, j) => j !== i) })}>
                Remove condition {i + 1}
              </button>
            </div>
          ))}
          <div className="actions">
            <button type="button" onClick={() => onChange({ ...value, conditions: [...value.conditions, { field: 'event', op: '=', value: '' }] })}>
              Add condition
            </button>
            <button type="button" className="link-button" onClick={() => onChange({ ...value, raw: toFql(value) })}>
              Edit as FQL
            </button>
          </div>
          <p id={`${id}-fql`} className="hint">
            As FQL: <code>{toFql(value) || '(no condition: matches nothing)'}</code>
          </p>
        </>
      ) : (
        <>
          <label htmlFor={`${id}-raw`}>Trigger (FQL)</label>
          <textarea id={`${id}-raw`} rows={2} value={value.raw} onChange={(e) => onChange({ ...value, raw: e.target.value })} spellCheck={false} />
          <p id={`${id}-fql`} className="hint">
            Segment&apos;s Filter Query Language, e.g. <code>event = &quot;Audience Entered&quot; and type = &quot;track&quot;</code>.{' '}
            <button type="button" className="link-button" onClick={() => onChange(parseTrigger(value.raw ?? ''))}>
              Back to conditions
            </button>
          </p>
        </>
      )}
      {error && (
        <p id={`${id}-error`} className="error-text" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  )
}
