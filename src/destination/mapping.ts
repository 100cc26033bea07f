/**
 * A configured mapping (action + trigger + field mapping), compiled once: the trigger is checked
 * and parsed, the mapping directives validated, so that per event only FQL evaluation, mapping-kit's
 * `transform` and the compiled payload validator run.
 */
import { ACTION_KEYS, defaultMapping, isActionKey, tiktokAudiences } from './definition.js'
import { ConfigError, PayloadValidationError } from './errors.js'
import { compilePayloadValidator, type MappedPayload, type PayloadValidator } from './payload.js'
import { sampleEvent } from './samples.js'
import { mappingKit, validateMapping } from './segment-libraries.js'
import { compileTrigger } from './trigger.js'
import { compileFastMapping } from './fast-mapping.js'
import type { ActionDefinition } from './types.js'

export interface MappingConfig {
  action: string
  /** FQL; the action's default trigger when absent. */
  trigger?: string
  /** Shallow-merged over the action's defaults: these keys win (INTERFACE.md). */
  mapping?: Record<string, unknown>
}

export interface CompiledMapping {
  action: ActionDefinition
  trigger: string
  /** The effective mapping: defaults with the user's keys on top. */
  mapping: Record<string, unknown>
  /** Non-fatal remarks about the trigger (see trigger.ts). */
  warnings: string[]
  matches(event: unknown): boolean
  /**
   * Mapping-kit, empty-value removal and payload validation; throws PayloadValidationError.
   * `several`: emails and phones may be arrays of several values (the `recommended` policy).
   */
  map(event: Record<string, unknown>, several?: boolean): MappedPayload
  /**
   * `map` for many events at once: mapping-kit checks the mapping once per call instead of once
   * per event (measured: about 40% of `transform`'s time). A validation failure is returned in
   * place of its payload.
   */
  mapBatch(events: Record<string, unknown>[], several?: boolean): (MappedPayload | PayloadValidationError)[]
}

/** The identifier fields that may hold several values per person under `recommended` (README "Identifiers"). */
export const SEVERAL_VALUE_FIELDS = ['email', 'phone'] as const

/** Keys Segment's platform itself reads from a mapping; they are not action fields. */
const PLATFORM_KEYS = /^(__segment_internal_\w+|batch_size|batch_bytes)$/

function describe(value: unknown): string {
  const json = JSON.stringify(value)
  return json.length > 80 ? `${json.slice(0, 77)}...` : json
}

export function compileMapping(config: MappingConfig): CompiledMapping {
  if (!config || typeof config.action !== 'string' || !isActionKey(config.action)) {
    throw new ConfigError(`Unknown action ${JSON.stringify(config?.action)}: valid actions are ${ACTION_KEYS.join(', ')}.`, 'action')
  }
  const action = tiktokAudiences.actions[config.action]
  const trigger = config.trigger ?? action.defaultSubscription
  const compiledTrigger = compileTrigger(trigger)

  const user = config.mapping ?? {}
  if (typeof user !== 'object' || user === null || Array.isArray(user)) {
    throw new ConfigError('The mapping must be an object of field keys to values or directives.', 'mapping', ['mapping'])
  }
  const fieldKeys = Object.keys(action.fields)
  for (const key of Object.keys(user)) {
    if (!(key in action.fields) && !PLATFORM_KEYS.test(key)) {
      throw new ConfigError(`Unknown field "${key}" in the mapping of ${action.key}: its fields are ${fieldKeys.join(', ')}.`, key, ['mapping', key])
    }
  }
  const mapping: Record<string, unknown> = { ...defaultMapping(action.fields), ...user }

  // Directives are checked field by field so that the error names the field. The validator of
  // mapping-kit misses some runtime-only errors (e.g. `@if` without `exists`/`blank`), hence the
  // dry runs on an empty and on a sample event.
  const dryRunEvents = [{}, sampleEvent(action.key as never) as unknown as Record<string, unknown>]
  for (const [key, value] of Object.entries(mapping)) {
    if (key === '__segment_internal_directive') continue
    try {
      validateMapping(value, [key])
      for (const event of dryRunEvents) mappingKit.transform({ [key]: value } as Record<string, unknown>, event)
    } catch (err) {
      const detail = (err as Error).message.replace(/\.$/, '')
      throw new ConfigError(`Invalid mapping for field "${key}" (${describe(value)}): ${detail}.`, key, ['mapping', key])
    }
  }
  try {
    for (const event of dryRunEvents) mappingKit.transform(mapping, event)
  } catch (err) {
    throw new ConfigError(`Invalid mapping: ${(err as Error).message}`, 'mapping', ['mapping'])
  }

  const strict = compilePayloadValidator(action.fields)
  let lenient: PayloadValidator | undefined
  const validatorFor = (several: boolean | undefined): PayloadValidator =>
    several ? (lenient ??= compilePayloadValidator(action.fields, { multipleValues: SEVERAL_VALUE_FIELDS })) : strict
  const fast = compileFastMapping(mapping)
  const map = (event: Record<string, unknown>, several?: boolean) => validatorFor(several)(fast ? fast(event) : mappingKit.transform(mapping, event))
  const validateOrReturn = (validatePayload: PayloadValidator, mapped: Record<string, unknown>): MappedPayload | PayloadValidationError => {
    try {
      return validatePayload(mapped)
    } catch (err) {
      if (err instanceof PayloadValidationError) return err
      throw err
    }
  }
  return {
    action,
    trigger,
    mapping,
    warnings: compiledTrigger.warnings,
    matches: compiledTrigger.matches,
    map,
    mapBatch(events, several) {
      const validatePayload = validatorFor(several)
      if (fast) return events.map((e) => validateOrReturn(validatePayload, fast(e)))
      let mapped: Record<string, unknown>[]
      try {
        mapped = mappingKit.transformBatch(mapping, events)
      } catch {
        // One event made a directive throw: map them one by one so only that event fails.
        return events.map((e) => {
          try {
            return map(e, several)
          } catch (err) {
            if (err instanceof PayloadValidationError) return err
            return new PayloadValidationError(`Mapping failed: ${(err as Error).message}`)
          }
        })
      }
      return mapped.map((m) => validateOrReturn(validatePayload, m))
    }
  }
}
