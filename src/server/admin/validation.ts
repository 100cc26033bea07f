/**
 * Schema validation of the admin API: unknown body fields are refused (not silently dropped, so a
 * typo such as `enable` is reported); query strings and path parameters are coerced from text.
 */
import { Ajv } from 'ajv'
import type { FastifySchemaCompiler } from 'fastify'

const strict = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false })
const coercing = new Ajv({ allErrors: false, coerceTypes: 'array', useDefaults: true, removeAdditional: false, strict: false })

export const adminValidatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strict : coercing
  return ajv.compile(schema) as ReturnType<FastifySchemaCompiler<object>>
}

/** JSON-schema helpers, so route schemas stay short. */
export const S = {
  str: (extra: object = {}) => ({ type: 'string', ...extra }),
  nonEmpty: (extra: object = {}) => ({ type: 'string', minLength: 1, ...extra }),
  int: (extra: object = {}) => ({ type: 'integer', ...extra }),
  bool: () => ({ type: 'boolean' }),
  nullable: (schema: object) => ({ anyOf: [schema, { type: 'null' }] }),
  any: () => ({}),
  obj: (properties: Record<string, object>, required: string[] = [], additional = false) => ({
    type: 'object',
    properties,
    required,
    additionalProperties: additional
  }),
  /** A response object: extra keys pass through untouched. */
  out: (properties: Record<string, object>) => ({ type: 'object', properties, additionalProperties: true }),
  arr: (items: object) => ({ type: 'array', items }),
  idParams: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
  error: { type: 'object', properties: { error: { type: 'string' }, field: { type: 'string' } }, additionalProperties: true }
}
