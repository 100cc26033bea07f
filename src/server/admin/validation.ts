/**
 * Schema validation of the admin API: unknown body fields are refused (not silently dropped, so a
 * typo such as `enable` is reported); query strings and path parameters are coerced from text.
 * Route schemas are TypeBox schemas, so each route's body, params and query types are derived from
 * the schema that checks them (`typed(app)`), never written beside it.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type IntegerOptions, type StringOptions, type TOptional, type TProperties, type TSchema } from '@sinclair/typebox'
import { Ajv } from 'ajv'
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify'

const strict = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false })
const coercing = new Ajv({ allErrors: false, coerceTypes: 'array', useDefaults: true, removeAdditional: false, strict: false })

export const adminValidatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strict : coercing
  return ajv.compile(schema) as ReturnType<FastifySchemaCompiler<object>>
}

/** The routes of `app` with request types derived from their TypeBox schemas. */
export const typed = (app: FastifyInstance) => app.withTypeProvider<TypeBoxTypeProvider>()

/** Properties not named in `R` are optional. */
type WithRequired<P extends TProperties, R extends keyof P> = { [K in keyof P]: K extends R ? P[K] : TOptional<P[K]> }

/** JSON-schema helpers, so route schemas stay short. */
export const S = {
  str: (extra: StringOptions = {}) => Type.String(extra),
  nonEmpty: (extra: StringOptions = {}) => Type.String({ minLength: 1, ...extra }),
  int: (extra: IntegerOptions = {}) => Type.Integer(extra),
  bool: () => Type.Boolean(),
  /** One of these strings (`{ type: 'string', enum }`: one error naming them all). */
  oneOf: <T extends string[]>(...values: T) => Type.Unsafe<T[number]>({ type: 'string', enum: values }),
  nullable: <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]),
  any: () => Type.Unknown(),
  /** A JSON object of any keys (a mapping). */
  record: () => Type.Unsafe<Record<string, unknown>>({ type: 'object' }),
  /** A request object: only `required` keys must be there, and no other keys than `properties`. */
  obj: <P extends TProperties, R extends keyof P & string = never>(properties: P, required: R[] = []) => {
    const props = Object.fromEntries(
      Object.entries(properties).map(([k, s]) => [k, (required as string[]).includes(k) ? s : Type.Optional(s)])
    ) as WithRequired<P, R>
    const schema = Type.Object(props, { additionalProperties: false })
    // In the order given: the first one missing is the one reported.
    if (required.length > 0) schema.required = [...required]
    return schema
  },
  /** A response object: extra keys pass through untouched (its type is left to the handler). */
  out: (properties: Record<string, TSchema>) => Type.Unsafe<unknown>({ type: 'object', properties, additionalProperties: true }),
  arr: <T extends TSchema>(items: T) => Type.Array(items),
  idParams: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
  /** `/destinations/:id/audiences/:key…` */
  audienceParams: Type.Object({ id: Type.Integer({ minimum: 1 }), key: Type.String({ minLength: 1, maxLength: 500 }) }),
  /** `?advertiserId=`: one advertiser of a fan-out connection. */
  advertiserQuery: Type.Object({ advertiserId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }),
  error: Type.Unsafe<unknown>({ type: 'object', properties: { error: { type: 'string' }, field: { type: 'string' } }, additionalProperties: true })
}
