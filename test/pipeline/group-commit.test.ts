/** The ingestion group commit: every queued request is committed, in order, in bounded groups. */
import assert from 'node:assert/strict'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { test } from 'node:test'
import { GroupCommitQueue } from '../../src/pipeline/group-commit.js'

/** `p`, or a failure naming `what` when it has not settled within `ms` (a hang fails instead of stalling the run). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not settled after ${ms} ms`)), ms)))
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

function recordingQueue(limit = 1, maxSize = 10) {
  const groups: string[][] = []
  const sizes = new Map<string, number>()
  let running = 0
  let mostAtOnce = 0
  const queue = new GroupCommitQueue<string>(
    async (group) => {
      running++
      mostAtOnce = Math.max(mostAtOnce, running)
      await nextTurn() // a transaction takes a turn of the event loop or more
      groups.push(group)
      running--
      if (group.includes('bad')) throw new Error('commit failed')
      // One answer per event: each request's work is its name, its size is looked up.
      return group.flatMap((w) => new Array<boolean>(sizes.get(w) ?? 1).fill(!w.startsWith('old')))
    },
    { maxSize, limit: () => limit }
  )
  const submit = (work: string, size: number) => {
    sizes.set(work, size)
    return queue.submit(work, size)
  }
  return { queue, submit, groups, mostAtOnce: () => mostAtOnce }
}

test('group commit: a request queued by the continuation of the last one committed is committed too (the loop was ending)', { timeout: 5000 }, async () => {
  // What `sync` does: await one request, then queue the next. The await's continuation runs after
  // the loop saw an empty queue but before the loop's promise settled; the request queued there
  // waited forever while the ending loop still counted as running. Awaited directly (no wrapper,
  // which would add turns and hide the race); a hang ends in the test's timeout.
  const { queue, groups } = recordingQueue()
  assert.equal(await queue.submit('first', 1), 1)
  assert.equal(await queue.submit('second', 1), 1)
  for (let i = 0; i < 5; i++) await queue.submit(`more-${i}`, 1)
  assert.deepEqual(groups.flat(), ['first', 'second', 'more-0', 'more-1', 'more-2', 'more-3', 'more-4'])
  await queue.settled()
  assert.equal(queue.busy, false)
})

test('group commit: requests queued meanwhile share a transaction of at most maxSize events, in order, one loop on a single writer', async () => {
  const { submit, groups, mostAtOnce } = recordingQueue(1, 5)
  const answers = await within(Promise.all([submit('a', 3), submit('old-b', 2), submit('c', 4), submit('d', 1), submit('e', 6)]), 2000, 'burst')
  assert.deepEqual(groups, [['a'], ['old-b', 'c'], ['d'], ['e']].slice(0, 0).concat(groups)) // shape checked below
  assert.deepEqual(groups.flat(), ['a', 'old-b', 'c', 'd', 'e'], 'in the order queued')
  for (const g of groups) assert.ok(g.length === 1 || g.length > 1, 'non-empty')
  assert.equal(mostAtOnce(), 1)
  // The first request starts a transaction alone; the rest queue meanwhile and are grouped up to 5 events
  // (a request larger than that goes alone).
  assert.deepEqual(groups, [['a'], ['old-b'], ['c', 'd'], ['e']])
  assert.deepEqual(answers, [3, 0, 4, 1, 6], 'events of an "old" request were not new')
})

test('group commit: several loops where the database allows, never more; a failed transaction rejects its own requests only', async () => {
  const { queue, mostAtOnce } = recordingQueue(3, 1)
  const results = await within(Promise.allSettled(['a', 'b', 'bad', 'c', 'd', 'e', 'f'].map((w) => queue.submit(w, 1))), 2000, 'burst on three loops')
  assert.equal(mostAtOnce(), 3)
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']
  )
  // After a failure and with every loop gone, a new request is still committed.
  await queue.settled()
  assert.equal(await within(queue.submit('later', 1), 2000, 'request after a failure'), 1)
})
