import { Ajv, type ErrorObject } from 'ajv'
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { UserError } from '../util/user-error.js'
import { at } from '../util/array.js'
import { configSchema, EVENTS_ONLY_KEYS, isWarehouseSource, type ConfigFile } from './schema.js'

/** A problem in the config file, named by its path (`destinations[0].mappings[1].trigger`). */
export class ConfigFileError extends UserError {
  override readonly name = 'ConfigFileError'
  constructor(
    readonly problems: string[],
    file?: string
  ) {
    super(`${file ? `${file}: ` : ''}invalid config:\n  - ${problems.join('\n  - ')}`)
  }
}

const ajv = new Ajv({ allErrors: true, strict: false })
const validate = ajv.compile<ConfigFile>(configSchema)

/** `/destinations/0/mappings/1` → `destinations[0].mappings[1]` */
function jsonPointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '')
}

function describe(e: ErrorObject): string {
  const at = jsonPointerToPath(e.instancePath) || '(top level)'
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at}: unknown key "${String(e.params.additionalProperty)}"`
    case 'required':
      return `${at}: missing required key "${String(e.params.missingProperty)}"`
    case 'false schema': {
      const key = at.split('.').pop() ?? ''
      return (EVENTS_ONLY_KEYS as readonly string[]).includes(key)
        ? `${at}: not for a source of kind postgres (it has no write key)`
        : `${at}: only for a source of kind: postgres`
    }
    case 'pattern':
      if (at.endsWith('.every')) return `${at}: must be a duration such as 30s, 15m, 1h or 1d`
      if (at.endsWith('.url')) return `${at}: must be a postgres:// URL`
      return `${at}: ${e.message ?? 'is invalid'}`
    case 'enum':
      return `${at}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
    default:
      return `${at}: ${e.message ?? 'is invalid'}`
  }
}

/**
 * Expands `${NAME}` from the environment in every string. An unset variable becomes '' and is
 * reported, so that e.g. a missing access token is named rather than sent as "${…}".
 */
function expandEnv(value: unknown, path: string, missing: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = process.env[name]
      if (v === undefined || v === '') missing.push(`${path}: environment variable ${name} is not set`)
      return v ?? ''
    })
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, `${path}[${i}]`, missing))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, path ? `${path}.${k}` : k, missing)
    return out
  }
  return value
}

/**
 * The yaml package's error as a person reads it: what is wrong, where, and the offending line with
 * a caret under the column (its own message ends at "line 4, column 1:" once cut to one line).
 */
function yamlProblem(err: unknown, text: string): string {
  const e = err as Error & { code?: string; linePos?: [{ line: number; col: number }, ...unknown[]] }
  const what = e.message.split(' at line ')[0]?.split('\n')[0] ?? e.message
  const at = e.linePos?.[0]
  if (!at) return `not valid YAML/JSON: ${what}`
  const lines = text.split(/\r?\n/)
  const gutter = String(at.line).length
  const show = (n: number) => `      ${String(n).padStart(gutter)} | ${lines[n - 1] ?? ''}`
  const context = [at.line > 1 ? show(at.line - 1) : undefined, show(at.line), `      ${' '.repeat(gutter)} | ${' '.repeat(Math.max(0, at.col - 1))}^`]
  return `not valid YAML/JSON at line ${at.line}, column ${at.col}: ${what}${e.code ? ` (${e.code})` : ''}\n${context.filter((l) => l !== undefined).join('\n')}`
}

export interface LoadedConfig {
  config: ConfigFile
  /** Non-fatal findings (unset variables). */
  warnings: string[]
}

/** A warehouse source shares the name space of sources (`sync --source NAME`, `/api/syncs/NAME`). */
function duplicateSourceNames(config: ConfigFile): string[] {
  const first = new Map<string, number>()
  const problems: string[] = []
  for (const [i, s] of (config.sources ?? []).entries()) {
    const j = first.get(s.name)
    if (j === undefined) first.set(s.name, i)
    else if (isWarehouseSource(s) || isWarehouseSource(at(config.sources ?? [], j)))
      problems.push(`sources[${i}].name: "${s.name}" is also the name of sources[${j}]`)
  }
  return problems
}

/** Parses (YAML or JSON), expands `${ENV}` and checks a config file's structure. */
export function parseConfig(text: string, file?: string): LoadedConfig {
  let raw: unknown
  try {
    raw = parseYaml(text, { prettyErrors: true })
  } catch (err) {
    throw new ConfigFileError([yamlProblem(err, text)], file)
  }
  if (raw === null || raw === undefined) raw = {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigFileError(['(top level): must be a mapping with sources/destinations'], file)
  const warnings: string[] = []
  const expanded = expandEnv(raw, '', warnings)
  // An `if` error only repeats the `then`/`else` error under it.
  if (!validate(expanded)) throw new ConfigFileError((validate.errors ?? []).filter((e) => e.keyword !== 'if').map(describe), file)
  const duplicates = duplicateSourceNames(expanded)
  if (duplicates.length > 0) throw new ConfigFileError(duplicates, file)
  return { config: expanded, warnings }
}

export function loadConfigFile(file: string): LoadedConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigFileError([`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`], file)
  }
  return parseConfig(text, file)
}
