/** A configuration problem found when compiling a mapping: names the offending field or `trigger`. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  /** Field key of the mapping (e.g. `email`), or `action` / `trigger`. */
  readonly field: string
  /** Path inside the configured mapping, e.g. `['mapping', 'email']`. */
  readonly path: string[]

  constructor(message: string, field: string, path: string[] = [field]) {
    super(message)
    this.field = field
    this.path = path
  }
}

/**
 * A mapped payload does not satisfy the action's fields (Segment: PayloadValidationError / AJV's
 * AggregateAjvError, status 400, not retried). Messages follow Segment's wording.
 */
export class PayloadValidationError extends Error {
  override name = 'PayloadValidationError'
  readonly status = 400
  readonly code = 'PAYLOAD_VALIDATION_FAILED'
}
