/** Errors of the admin API: a status and a message, and the field at fault when there is one. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { ConfigError } from '../../destination/errors.js'
import { isDatabaseUnavailable } from '../../store/errors.js'
import { DATABASE_UNAVAILABLE, retryLater } from '../retry-later.js'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    /** Extra keys of the JSON answer. */
    readonly extra: Record<string, unknown> = {}
  ) {
    super(message)
  }
}

export const badRequest = (message: string, field?: string): ApiError => new ApiError(400, message, field)
export const notFound = (what: string): ApiError => new ApiError(404, `${what} not found`)

/** Ajv's error as "<field> <problem>", naming the field (`name`, `mapping.email`, `ids[2]`). */
function describeValidation(err: FastifyError): { message: string; field: string } {
  const first = err.validation?.[0]
  if (!first) return { message: err.message, field: '' }
  const path = first.instancePath
    .split('/')
    .filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('')
  const params = first.params as { missingProperty?: string; additionalProperty?: string }
  if (params.missingProperty) {
    const field = path ? `${path}.${params.missingProperty}` : params.missingProperty
    return { field, message: `"${field}" is required` }
  }
  if (params.additionalProperty) {
    const field = path ? `${path}.${params.additionalProperty}` : params.additionalProperty
    return { field, message: `"${field}" is not a known field` }
  }
  const where = err.validationContext === 'querystring' ? 'query parameter ' : err.validationContext === 'params' ? 'path parameter ' : ''
  return { field: path, message: path ? `${where}"${path}" ${first.message}` : `the ${err.validationContext ?? 'request'} ${first.message}` }
}

export function adminErrorHandler(log: { error(o: object, m: string): void }) {
  return (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) {
      return reply.code(err.status).send({ error: err.message, ...(err.field ? { field: err.field } : {}), ...err.extra })
    }
    if (isDatabaseUnavailable(err)) return retryLater(reply, 503, DATABASE_UNAVAILABLE)
    if (err instanceof ConfigError) return reply.code(400).send({ error: err.message, field: err.field })
    if (err.validation) {
      const { message, field } = describeValidation(err)
      return reply.code(400).send({ error: message, field })
    }
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message })
    log.error({ err }, 'admin API request failed')
    return reply.code(500).send({ error: `internal error: ${err.message}` })
  }
}
