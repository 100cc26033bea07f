/**
 * A person's identifiers hashed as a destination sends them (its normalisation policy and phone
 * region), for finding what was sent for them: forget and consent withdrawal. An advertising id is
 * looked for under every mobile id type TikTok knows, since its hash is the same.
 */
import { processIdentifier, sha256Hex, type IdentifierKind, type IdentifierOptions } from './identifiers.js'

export interface PersonIdentifiers {
  email?: string
  phone?: string
  advertising_id?: string
  userId?: string
}

export interface HashedPerson {
  identifiers: { type: string; hash: string }[]
  userHashes: string[]
}

const TYPE_OF: Record<IdentifierKind, string> = { email: 'EMAIL_SHA256', phone: 'PHONE_SHA256', advertising_id: 'IDFA_SHA256' }

/** The hashes a destination with `options` sends for these identifiers; values it rejects give none. */
export function hashPerson(person: PersonIdentifiers, options: IdentifierOptions): HashedPerson {
  const identifiers: HashedPerson['identifiers'] = []
  for (const kind of ['email', 'phone', 'advertising_id'] as const) {
    const value = person[kind]
    if (value === undefined) continue
    const outcome = processIdentifier(kind, value, true, options)
    if (outcome.hash !== null) identifiers.push({ type: TYPE_OF[kind], hash: outcome.hash })
  }
  const userHash = userHashOf(person.userId)
  return { identifiers, userHashes: userHash ? [userHash] : [] }
}

/** What is stored for a Segment userId: the sha256 of it trimmed (a userId is often an email); none for an empty one. */
export function userHashOf(userId: unknown): string | null {
  if (typeof userId !== 'string' && typeof userId !== 'number') return null
  const text = String(userId).trim()
  return text === '' ? null : sha256Hex(text)
}
