/**
 * Group commit: requests that arrive while a transaction runs share the next one (one disk sync for
 * many requests). Up to `limit()` commit loops run at once; each takes the queued requests in order,
 * up to `maxSize` events per transaction, until the queue is empty.
 */
import { first } from '../util/array.js'
import { must } from '../util/must.js'

export interface GroupCommitOptions {
  /** At most this many events (the sum of the requests' sizes) share one transaction. */
  maxSize: number
  /** How many commit loops may run at once (asked at each request: it may depend on the database). */
  limit: () => number
}

interface Queued<T> {
  work: T
  size: number
  resolve: (n: number) => void
  reject: (e: unknown) => void
}

export class GroupCommitQueue<T> {
  private queue: Queued<T>[] = []
  /** Loops that will still look at the queue; counted down in the same turn as a loop sees it empty. */
  private looping = 0
  private readonly loops = new Set<Promise<void>>()

  /** `commit` records one group in one transaction and answers, per event in order, whether it was new. */
  constructor(
    private readonly commit: (group: T[]) => Promise<boolean[]>,
    private readonly opts: GroupCommitOptions
  ) {}

  /** Queues `work` of `size` events: resolves once committed with the number that were new. */
  submit(work: T, size: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ work, size, resolve, reject })
      while (this.looping < this.opts.limit() && this.queue.length > 0) {
        this.looping++
        const loop: Promise<void> = this.commitLoop().finally(() => this.loops.delete(loop))
        this.loops.add(loop)
      }
    })
  }

  /** True while a request is queued or being committed. */
  get busy(): boolean {
    return this.looping > 0 || this.queue.length > 0
  }

  /** Resolves once every loop running now has ended. */
  async settled(): Promise<void> {
    await Promise.all(this.loops)
  }

  private async commitLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group: Queued<T>[] = []
        let size = 0
        while (this.queue.length > 0 && (group.length === 0 || size + first(this.queue).size <= this.opts.maxSize)) {
          const next = must(this.queue.shift(), 'the next queued request')
          size += next.size
          group.push(next)
        }
        try {
          const isNew = await this.commit(group.map((g) => g.work))
          let at = 0
          for (const g of group) {
            g.resolve(countTrue(isNew, at, g.size))
            at += g.size
          }
        } catch (err) {
          for (const g of group) g.reject(err)
        }
      }
    } finally {
      // Synchronously with the empty check above: a request queued by a continuation of the last
      // resolve (which runs before this loop's promise settles) sees this loop gone and starts one.
      this.looping--
    }
  }
}

/** How many of `flags[from … from + count)` are true (docs/PERFORMANCE.md §1). */
function countTrue(flags: boolean[], from: number, count: number): number {
  let n = 0
  for (let i = from; i < from + count; i++) if (flags[i]) n++
  return n
}
