/** Engage-shaped events for tests, and the hashes TikTok should receive for them. */
import { createHash } from 'node:crypto'

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')

export interface Person {
  userId: string
  email?: string
  phone?: string
  advertisingId?: string
}

/** An "Audience Entered"/"Audience Exited" track call as Engage sends it. */
export function audienceEvent(
  p: Person,
  audienceKey: string,
  member: boolean,
  extra: { messageId?: string; externalAudienceId?: string; advertiserId?: string } = {}
): Record<string, unknown> {
  const personas: Record<string, unknown> = {
    computation_class: 'audience',
    computation_id: `aud_${audienceKey}`,
    computation_key: audienceKey,
    namespace: 'spa_test',
    space_id: 'spa_test'
  }
  if (extra.externalAudienceId) personas.external_audience_id = extra.externalAudienceId
  if (extra.advertiserId) personas.audience_settings = { advertiserId: extra.advertiserId }
  const traits: Record<string, string> = {}
  if (p.email !== undefined) traits.email = p.email
  if (p.phone !== undefined) traits.phone = p.phone
  return {
    type: 'track',
    event: member ? 'Audience Entered' : 'Audience Exited',
    userId: p.userId,
    messageId: extra.messageId ?? `personas_${audienceKey}_${p.userId}_${member ? 'in' : 'out'}`,
    timestamp: '2026-11-25T10:00:00.000Z',
    properties: { audience_key: audienceKey, [audienceKey]: member },
    context: {
      traits,
      ...(p.advertisingId !== undefined ? { device: { advertisingId: p.advertisingId } } : {}),
      personas
    }
  }
}

export const ndjson = (events: unknown[]): string => events.map((e) => JSON.stringify(e)).join('\n') + '\n'
