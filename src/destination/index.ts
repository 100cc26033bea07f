/** The TikTok Audiences destination as data, and the functions that turn events into TikTok changes. */
export { tiktokAudiences, ACTION_KEYS, defaultMapping, isActionKey, type ActionKey } from './definition.js'
export type {
  ActionDefinition,
  DestinationDefinition,
  DynamicFieldResponse,
  FieldDefinition,
  FieldDefinitions,
  MappingValue,
  PresetDefinition,
  SettingDefinition
} from './types.js'
export { ConfigError, PayloadValidationError } from './errors.js'
export { compileMapping, SEVERAL_VALUE_FIELDS, type CompiledMapping, type MappingConfig } from './mapping.js'
export { identifierRows, isAndroidEvent, MAX_VALUES_PER_IDENTIFIER, processValues, type IdentifierRows } from './matching.js'
export { compileTrigger, type CompiledTrigger } from './trigger.js'
export type { MappedPayload } from './payload.js'
export {
  isSha256Hex,
  processIdentifier,
  segmentEmailNormalization,
  segmentEmailNormalizationRegex,
  sha256Hex,
  type IdentifierKind,
  type IdentifierOptions,
  type IdentifierOutcome,
  type IdentifierReport,
  type IdentifierStatus,
  type NormalizationPolicy
} from './identifiers.js'
export { audienceMembershipEvent, resolveAudienceMembership, type MemberIdentifiers } from './membership.js'
export {
  MESSAGES,
  membershipRows,
  toChange,
  type Change,
  type ChangeContext,
  type ChangeError,
  type CreateAudienceChange,
  type DestinationSettings,
  type MembershipChange
} from './changes.js'
// TikTok's own rule for audience names (tiktok/audiences.ts), re-exported for the destination's users.
export { truncateAudienceName } from '../tiktok/audiences.js'
export { buildCreateAudienceBody, buildMappingBody, groupMembershipChanges, requestKey } from './request-bodies.js'
export {
  AUDIENCE_PAGE_SIZE,
  advertiserChoices,
  audienceChoices,
  dynamicFields,
  runDynamicField,
  type DynamicFieldClient,
  type DynamicFieldHandler,
  type DynamicFieldInput
} from './dynamic-fields.js'
export { sampleAudienceEvent, sampleCreateAudienceEvent, sampleEvent, sampleIdentifyEvent, type SegmentEvent } from './samples.js'
export { renderActionsMarkdown } from './docs.js'
