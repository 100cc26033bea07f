import { Ajv, type ErrorObject } from 'ajv'
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { configSchema, type ConfigFile } from './schema.js'

/** A problem in the config file, named by its path (`destinations[0].mappings[1].trigger`). */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError'
  constructor(readonly problems: string[], file?: string) {
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

export interface LoadedConfig {
  config: ConfigFile
  /** Non-fatal findings (unset variables). */
  warnings: string[]
}

/** Parses (YAML or JSON), expands `${ENV}` and checks a config file's structure. */
export function parseConfig(text: string, file?: string): LoadedConfig {
  let raw: unknown
  try {
    raw = parseYaml(text, { prettyErrors: true })
  } catch (err) {
    throw new ConfigFileError([`not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`], file)
  }
  if (raw === null || raw === undefined) raw = {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigFileError(['(top level): must be a mapping with sources/destinations'], file)
  const warnings: string[] = []
  const expanded = expandEnv(raw, '', warnings)
  if (!validate(expanded)) throw new ConfigFileError((validate.errors ?? []).map(describe), file)
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
