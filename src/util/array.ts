// Checked element access for code built with noUncheckedIndexedAccess: where an index is known
// to be in range (loop bounds, parallel arrays), say so once instead of scattering `!`.

/** The element at `index`; throws if there is none (a broken invariant, not bad input). */
export function at<T>(items: ArrayLike<T>, index: number): T {
  const item = items[index]
  if (item === undefined && !(index in items)) {
    throw new RangeError(`index ${index} out of range (length ${items.length})`)
  }
  return item as T
}

/** The first element; throws on an empty array. */
export function first<T>(items: ArrayLike<T>): T {
  return at(items, 0)
}

/** The last element; throws on an empty array. */
export function last<T>(items: ArrayLike<T>): T {
  return at(items, items.length - 1)
}
