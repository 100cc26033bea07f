/**
 * A lookup remembered for `ttlMs`: the hot paths (write key → source, source → shared secret) ask
 * the database at most once per key and period. Only what the lookup found is kept (`undefined` is
 * asked again), so made-up keys cannot grow the map and a newly created key works at once.
 */
export function cachedLookup<K, V>(ttlMs: number, lookup: (key: K) => Promise<V | undefined>): (key: K) => Promise<V | undefined> {
  const cache = new Map<K, { value: V; at: number }>()
  return async (key) => {
    const hit = cache.get(key)
    if (hit && Date.now() - hit.at < ttlMs) return hit.value
    const value = await lookup(key)
    if (value === undefined) cache.delete(key)
    else cache.set(key, { value, at: Date.now() })
    return value
  }
}
