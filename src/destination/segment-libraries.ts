/**
 * Segment's own published implementations of its two mapping languages (SPEC §2.5: use them rather
 * than re-implementing). Loaded through `require`: the ESM build of @segment/actions-core does not
 * load on Node, its CJS subpaths do (and only the mapping-kit part is loaded, ~35 ms).
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

export interface FqlToken {
  type: string
  value: string
}

export type FqlAst = { type: string; operator?: string; children?: FqlAst[]; [key: string]: unknown }

export const mappingKit = require('@segment/actions-core/mapping-kit') as {
  transform(mapping: Record<string, unknown>, data: Record<string, unknown>): Record<string, unknown>
  transformBatch(mapping: Record<string, unknown>, data: Array<Record<string, unknown>>): Array<Record<string, unknown>>
}

/** Throws a ValidationError whose message starts with `/<stack>`; returns nothing when valid. */
export const validateMapping = (
  require('@segment/actions-core/mapping-kit/validate') as {
    default: (mapping: unknown, stack?: string[]) => void
  }
).default

export const subscriptions = require('@segment/destination-subscriptions') as {
  parseFql(fql: string): FqlAst | { error: Error }
  validate(ast: FqlAst, event: unknown): boolean
}

/** fql-ts is the lexer destination-subscriptions itself uses; resolve it from there, not from the app. */
export const fqlLexer = createRequire(require.resolve('@segment/destination-subscriptions'))('@segment/fql-ts') as {
  lex(code: string): { tokens: FqlToken[]; error?: Error }
}
