/**
 * A value the code knows is there (the row an INSERT … RETURNING just wrote, a key set a line
 * above): throws, naming it, if it is not — a broken invariant, never bad input.
 */
export function must<T>(value: T | null | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`internal error: ${what} is missing`)
  return value
}
