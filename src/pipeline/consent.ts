/**
 * Segment consent (README "Deletion and consent"): an event withdraws a destination's consent
 * category when `context.consent.categoryPreferences.<category>` is `false` — the category name
 * as configured, else the one key that matches it ignoring case. `true`, a missing key, a missing
 * `categoryPreferences` and any other value count as consent (Segment adds the object only where
 * consent is managed). Such an event sends no add for the destination, and removes the person —
 * its userId and the identifiers at the default mapping's places, hashed as the destination does —
 * from every audience of the destination they were added to.
 */
import { hashPerson, type HashedPerson, type PersonIdentifiers } from '../destination/person.js'
import type { IdentifierOptions } from '../destination/identifiers.js'
import type { LooseEvent } from '../destination/types.js'

/** Whether `event` withdraws consent for `category` (only an explicit `false`). */
export function consentWithdrawn(event: LooseEvent, category: string): boolean {
  const prefs = event.context?.consent?.categoryPreferences
  if (!prefs || typeof prefs !== 'object') return false
  if (category in prefs) return prefs[category] === false
  const lower = category.toLowerCase()
  const keys = Object.keys(prefs).filter((k) => k.toLowerCase() === lower)
  const [only] = keys
  return keys.length === 1 && only !== undefined && prefs[only] === false
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined)

/** The person an event is about: its userId and identifiers where the default mappings read them. */
export function personOfEvent(event: LooseEvent, options: IdentifierOptions): HashedPerson {
  const traits = event.context?.traits ?? {}
  const person: PersonIdentifiers = {
    email: text(traits.email) ?? text(event.properties?.email) ?? text(event.traits?.email),
    phone: text(traits.phone) ?? text(event.properties?.phone) ?? text(event.traits?.phone),
    advertising_id: text(event.context?.device?.advertisingId),
    userId: typeof event.userId === 'number' ? String(event.userId) : text(event.userId)
  }
  return hashPerson(person, options)
}
