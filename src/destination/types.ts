/**
 * The destination as data: the shapes of Segment's destination-kit definitions, reduced to what this
 * product needs. One definition object per action drives defaults, payload validation, the console's
 * forms and the generated docs (docs/ACTIONS.md).
 */

/** A mapping-kit value: a raw JSON value or a directive object such as `{ "@path": "$.event" }`. */
export type MappingValue = string | number | boolean | null | MappingValue[] | { [key: string]: MappingValue }

export type FieldType = 'string' | 'boolean' | 'integer' | 'number' | 'object'

export interface FieldDefinition {
  label: string
  description: string
  type: FieldType
  /** The value is an array of `type`. */
  multiple?: boolean
  required?: boolean
  /** Pre-populates a new mapping (mapping-kit value or directive), exactly as Segment's `default`. */
  default?: MappingValue
  /** Segment's `unsafe_hidden`: never shown in the mapping editor, its default still applies. */
  hidden?: boolean
  /** Choices are loaded at edit time by a dynamic-field handler (see dynamic-fields.ts). */
  dynamic?: boolean
  /** Segment marks identifiers that it hashes as `hashedPII`. */
  category?: 'hashedPII'
  choices?: Array<{ label: string; value: string }>
}

export type FieldDefinitions = Record<string, FieldDefinition>

/** What the action does with a mapped payload: change audience membership, or create an audience. */
export type ActionKind = 'membership' | 'create'

export interface ActionDefinition<K extends string = string> {
  key: K
  title: string
  description: string
  /** FQL trigger a new mapping starts with. */
  defaultSubscription: string
  fields: FieldDefinitions
  kind: ActionKind
  /**
   * How a membership action chooses add or delete: fixed by the action, or from the event's
   * audience membership (syncAudience). Absent for `create`.
   */
  direction?: 'add' | 'delete' | 'membership'
  /** Legacy actions address the audience by `audience_id` and send `settings.advertiser_ids`. */
  flow?: 'legacy' | 'native'
}

/** Settings fields of the destination and of an audience connection (Segment's GlobalSetting). */
export interface SettingDefinition {
  label: string
  description: string
  type: 'string' | 'boolean' | 'number' | 'password'
  required?: boolean
  multiple?: boolean
}

/**
 * A preset = a mapping created for the user. `automatic` presets subscribe with FQL; `specificEvent`
 * presets are Segment's entity/journey presets, bound to one of Segment's event slugs.
 */
export interface PresetDefinition {
  name: string
  partnerAction: string
  type: 'automatic' | 'specificEvent'
  subscribe?: string
  eventSlug?: string
  mapping?: Record<string, MappingValue>
}

export interface DestinationDefinition<K extends string = string> {
  name: string
  slug: string
  description: string
  /** Destination settings; `advertiser_ids` is filled by OAuth for legacy instances. */
  settings: Record<string, SettingDefinition>
  /** Per audience connection (Segment's `audienceFields`). */
  audienceFields: Record<string, SettingDefinition>
  actions: Record<K, ActionDefinition<K>>
  presets: PresetDefinition[]
}

/** Segment's DynamicFieldResponse. Errors are returned, never thrown. */
export interface DynamicFieldResponse {
  choices: Array<{ label: string; value: string; description?: string }>
  nextPage?: string
  error?: { code: string; message: string }
}

/**
 * A Segment event as routing reads it: any field at any depth may be absent or of any type, and
 * reads are checked where they are used (mapping-kit does the same). The one home of this `any`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LooseEvent = Record<string, any>
