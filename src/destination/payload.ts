/**
 * What Segment does to a mapped payload before `perform` (actions-core action.ts): drop empty values,
 * then validate against the JSON schema derived from the fields with AJV (`coerceTypes: 'array'`,
 * unknown keys removed, required enforced). Re-implemented here as a validator compiled once per
 * action: actions-core's own validator fails under the installed fast-uri (NOTES.md), and a
 * compiled check is far cheaper per event than AJV. Messages follow @segment/ajv-human-errors.
 */
import { PayloadValidationError } from './errors.js'
import type { FieldDefinition, FieldDefinitions } from './types.js'

/** A payload after mapping, cleanup and validation. Keys are the action's field keys. */
export interface MappedPayload {
  /** Several values only from a validator compiled with `multipleValues` (see PayloadOptions). */
  email?: string | string[]
  phone?: string | string[]
  advertising_id?: string
  send_email?: boolean
  send_phone?: boolean
  send_advertising_id?: boolean
  external_audience_id?: string
  selected_advertiser_id?: string
  audience_id?: string
  custom_audience_name?: string
  event_name?: string
  enable_batching?: boolean
  batch_keys?: string[]
  [key: string]: unknown
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  const t = typeof value
  return t === 'object' ? 'an object' : t === 'undefined' ? 'undefined' : `a ${t}`
}

const NOT_COERCIBLE = Symbol('not coercible')

/** AJV's scalar coercions (coerceTypes), including 'array' (one-element array <-> scalar). */
function coerceScalar(value: unknown, type: FieldDefinition['type']): unknown {
  if (Array.isArray(value)) return value.length === 1 ? coerceScalar(value[0], type) : NOT_COERCIBLE
  switch (type) {
    case 'string':
      if (typeof value === 'string') return value
      if (typeof value === 'number' || typeof value === 'boolean') return String(value)
      return NOT_COERCIBLE
    case 'boolean':
      if (typeof value === 'boolean') return value
      if (value === 'true' || value === 1) return true
      if (value === 'false' || value === 0) return false
      return NOT_COERCIBLE
    case 'number':
    case 'integer': {
      let n: number
      if (typeof value === 'number') n = value
      else if (typeof value === 'boolean') n = value ? 1 : 0
      else if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) n = Number(value)
      else return NOT_COERCIBLE
      return type === 'integer' && !Number.isInteger(n) ? NOT_COERCIBLE : n
    }
    case 'object':
      return typeof value === 'object' && value !== null ? value : NOT_COERCIBLE
  }
}

interface CompiledField {
  key: string
  /** `severalValues`: a string field given `multipleValues` (PayloadOptions). */
  field: FieldDefinition & { severalValues?: boolean }
  /** How its type reads in an error message (written once, not per payload). */
  expected: string
}

export type PayloadValidator = (mapped: Record<string, unknown>) => MappedPayload

export interface PayloadOptions {
  /**
   * String fields that may carry several values (the `recommended` policy's emails and phones): an
   * array of two or more is kept as an array of strings, its empty items (null, '') left out. Without
   * it such an array fails as in Segment ("must be a string but it was an array").
   */
  multipleValues?: readonly string[]
}

/** Builds the validator of one action's payloads; throws PayloadValidationError per bad payload. */
export function compilePayloadValidator(fields: FieldDefinitions, options: PayloadOptions = {}): PayloadValidator {
  const compiled: CompiledField[] = Object.entries(fields).map(([key, field]) => ({
    key,
    field: options.multipleValues?.includes(key) && field.type === 'string' && !field.multiple ? { ...field, severalValues: true } : field,
    expected: field.type === 'integer' ? 'an integer' : field.type === 'object' ? 'an object' : `a ${field.type}`
  }))
  return (mapped) => {
    const out: MappedPayload = {}
    let errors: string[] | undefined
    for (const { key, field, expected } of compiled) {
      let value = mapped[key]
      // removeEmptyValues: null is never allowed here; '' is dropped at the top level (Segment's
      // single-event path) so that a required field mapped to '' reports as missing.
      if (value === undefined || value === null || value === '') {
        if (field.required) (errors ??= []).push(`The root value is missing the required field '${key}'.`)
        continue
      }
      if (field.severalValues && Array.isArray(value)) {
        // Several values: each must be a string (or a scalar coerced to one); empty items are left
        // out, and what is left of one value stays a plain string, as without the option.
        const coerced: string[] = []
        value.forEach((item, i) => {
          if (item === null || item === undefined || item === '') return
          const c = coerceScalar(item, field.type)
          if (c === NOT_COERCIBLE) (errors ??= []).push(`The value at /${key}/${i} must be ${expected} but it was ${typeName(item)}.`)
          else coerced.push(c as string)
        })
        if (coerced.length > 0) out[key] = coerced.length === 1 ? coerced[0] : coerced
        continue
      }
      if (field.multiple) {
        const items = Array.isArray(value) ? value : [value]
        const coerced: unknown[] = []
        for (let i = 0; i < items.length; i++) {
          const c = coerceScalar(items[i], field.type)
          if (c === NOT_COERCIBLE) {
            ;(errors ??= []).push(`The value at /${key}/${i} must be ${expected} but it was ${typeName(items[i])}.`)
          } else coerced.push(c)
        }
        value = coerced
      } else {
        const c = coerceScalar(value, field.type)
        if (c === NOT_COERCIBLE) {
          ;(errors ??= []).push(`The value at /${key} must be ${expected} but it was ${typeName(value)}.`)
          continue
        }
        value = c
      }
      out[key] = value
    }
    if (errors) throw new PayloadValidationError(errors.join(' '))
    return out
  }
}
