/**
 * `tiktok-audiences sync`: mirror sync (SPEC §3.1). Given the full current member list of an
 * audience, computes the difference to the last synced list and sends only the changes — removals
 * first, so that a member whose identifiers changed is re-added after the old row is deleted — as
 * Audience Exited / Audience Entered events through the destination's own mappings. The synced
 * state (hashes only) advances only for what TikTok confirmed.
 */
import { createHash, randomUUID } from 'node:crypto'
import { processIdentifier, type IdentifierKind } from '../destination/identifiers.js'
import { audienceMembershipEvent } from '../destination/membership.js'
import { checkEvent, type SegmentEvent } from '../pipeline/event.js'
import { listDestinations } from '../store/sql/config.js'
import { outcomesByMessageId } from '../store/sql/changes.js'
import { loadMirror, updateMirror, type MirrorMember } from '../store/sql/mirror.js'
import { readMembers } from './members.js'
import { printError, runOneShot } from './one-shot.js'

export interface SyncOptions {
  config: string
  destination: string
  audience: string
  members: string
  db?: string
}

const KINDS: IdentifierKind[] = ['email', 'phone', 'advertising_id']

export async function runSync(opts: SyncOptions): Promise<number> {
  const started = Date.now()
  return runOneShot({ config: opts.config, db: opts.db, database: 'default' }, async ({ store, pipeline, requests, applied }) => {
    const dest = (await listDestinations(store.db, store.secrets)).find((d) => d.name === opts.destination)
    if (!dest || dest.sourceId === null) {
      printError(`--destination: no destination named "${opts.destination}" in the config`)
      return 2
    }
    const policy = { policy: dest.normalization, defaultPhoneRegion: dest.defaultPhoneRegion ?? undefined }

    // The current list, as the hashes TikTok would receive (the key of a member is its hashes).
    const current = new Map<string, MirrorMember>()
    let rows = 0
    let invalid = 0
    for await (const item of readMembers(opts.members)) {
      rows++
      if ('error' in item) {
        invalid++
        printError(`${opts.members}:${item.line}: ${item.error}`)
        continue
      }
      const hashes = KINDS.map((k) => processIdentifier(k, item.member[k], true, policy))
      const rejected = hashes.map((h, i) => (h.status === 'rejected' ? `${KINDS[i]}: ${h.reason}` : '')).filter(Boolean)
      if (hashes.every((h) => h.hash === null)) {
        invalid++
        printError(`${opts.members}:${item.line}: no usable identifier${rejected.length ? ` (${rejected.join('; ')})` : ''}`)
        continue
      }
      const [email, phone, advertisingId] = hashes.map((h) => h.hash)
      const memberKey = createHash('sha256').update(`${email ?? ''}|${phone ?? ''}|${advertisingId ?? ''}`).digest('hex')
      current.set(memberKey, { memberKey, email, phone, advertisingId })
    }

    const previous = await loadMirror(store.db, dest.id, opts.audience)
    const removed = [...previous.values()].filter((m) => !current.has(m.memberKey))
    const added = [...current.values()].filter((m) => !previous.has(m.memberKey))
    const run = randomUUID().slice(0, 8)
    const events = [...removed.map((m) => memberEvent(dest.name, opts.audience, m, false, run)), ...added.map((m) => memberEvent(dest.name, opts.audience, m, true, run))]
    for (let i = 0; i < events.length; i += 1000) await pipeline.ingest(dest.sourceId, events.slice(i, i + 1000))
    pipeline.flushAll()
    await pipeline.whenIdle()

    const outcomes = await outcomesByMessageId(store.db, dest.sourceId, events.map((e) => e.messageId))
    const ok = (m: MirrorMember, member: boolean) => outcomes.get(messageId(dest.name, opts.audience, m, member, run)) === 'delivered'
    const confirmedAdds = added.filter((m) => ok(m, true))
    const confirmedRemoves = removed.filter((m) => ok(m, false))
    await updateMirror(store.db, dest.id, opts.audience, confirmedAdds, confirmedRemoves.map((m) => m.memberKey), Date.now())
    const notDelivered = added.length - confirmedAdds.length + removed.length - confirmedRemoves.length
    if (notDelivered > 0) {
      const reasons = [...new Set([...outcomes.values()])].join(', ')
      printError(`${notDelivered} change(s) were not delivered (${reasons}); they stay pending for the next sync`)
    }
    const summary = {
      members: current.size,
      rows,
      invalid,
      added: confirmedAdds.length,
      removed: confirmedRemoves.length,
      unchanged: current.size - added.length,
      failed: notDelivered,
      requests: requests(),
      durationMs: Date.now() - started
    }
    process.stdout.write(JSON.stringify(summary) + '\n')
    return notDelivered > 0 || invalid > 0 || applied.problems.length > 0 ? 1 : 0
  })
}

function messageId(destination: string, audience: string, m: MirrorMember, member: boolean, run: string): string {
  return `mirror:${createHash('sha256').update(`${destination}|${audience}`).digest('hex').slice(0, 12)}:${m.memberKey.slice(0, 32)}:${member ? 'in' : 'out'}:${run}`
}

/** A member change as the Engage event the destination's mappings already understand (pre-hashed ids). */
function memberEvent(destination: string, audience: string, m: MirrorMember, member: boolean, run: string): SegmentEvent {
  const check = checkEvent(
    audienceMembershipEvent({
      audienceKey: audience,
      destination,
      member,
      ids: m,
      userId: `mirror-${m.memberKey.slice(0, 16)}`,
      messageId: messageId(destination, audience, m, member, run),
      origin: { namespace: 'mirror-sync', idPrefix: 'mirror' }
    })
  )
  if (!check.ok) throw new Error(`internal: mirror event rejected: ${check.error}`)
  return check.event
}
