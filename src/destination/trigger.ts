/**
 * Triggers (Segment's FQL) evaluated with Segment's own `@segment/destination-subscriptions`.
 * Its parser accepts some broken input silently (`event = ` parses as `event = "eos"`), so a
 * trigger is first checked against the grammar that parser implements, and a broken one is a
 * ConfigError naming the problem instead of a mapping that quietly never matches.
 */
import { ConfigError } from './errors.js'
import { at } from '../util/array.js'
import { fqlLexer, subscriptions, type FqlAst, type FqlToken } from './segment-libraries.js'

export interface CompiledTrigger {
  fql: string
  matches(event: unknown): boolean
  /** Valid but surprising constructs (e.g. `and` and `or` mixed at one level: the last one wins). */
  warnings: string[]
}

const FIELD_HEADS = new Set(['type', 'event', 'name', 'userId', 'properties', 'traits', 'context'])
const PATH_HEADS = new Set(['properties', 'traits', 'context'])
const COMPARISON_OPERATORS = new Set(['=', '!=', '<', '<=', '>', '>='])

/** Same joining of `a . b` into `a.b` as destination-subscriptions does before parsing. */
function joinDottedIdents(tokens: FqlToken[]): FqlToken[] {
  const out: FqlToken[] = []
  for (let i = 0; i < tokens.length; i++) {
    const last = out[out.length - 1]
    const token = at(tokens, i)
    const next = tokens[i + 1]
    if (last?.type === 'ident' && token.type === 'dot' && next?.type === 'ident') {
      out[out.length - 1] = { type: 'ident', value: `${last.value}.${next.value}` }
      i++
    } else {
      out.push(token)
    }
  }
  return out
}

class GrammarCheck {
  private i = 0
  readonly warnings: string[] = []
  constructor(private readonly tokens: FqlToken[]) {}

  private peek(): FqlToken {
    return this.tokens[this.i] ?? { type: 'eos', value: 'eos' }
  }
  private next(): FqlToken {
    return this.tokens[this.i++] ?? { type: 'eos', value: 'eos' }
  }
  private fail(message: string): never {
    throw new Error(message)
  }
  private describe(token: FqlToken): string {
    return token.type === 'eos' ? 'the end of the trigger' : `${token.type} ${JSON.stringify(token.value)}`
  }

  run(): void {
    this.expr(0)
    const rest = this.peek()
    if (rest.type !== 'eos') this.fail(`unexpected ${this.describe(rest)}`)
  }

  private expr(depth: number): void {
    const conditionals = new Set<string>()
    this.term(depth)
    while (this.peek().type === 'conditional') {
      conditionals.add(this.next().value)
      this.term(depth)
    }
    if (conditionals.size > 1) {
      this.warnings.push('"and" and "or" are mixed at one level: Segment applies the last one to the whole group; use parentheses')
    }
  }

  private term(depth: number): void {
    const token = this.next()
    if (token.type === 'parenleft') {
      if (depth > 0) this.fail("nested parentheses are not supported by Segment's FQL (one level only)")
      this.expr(depth + 1)
      const close = this.next()
      if (close.type !== 'parenright') this.fail(`expected ")" but found ${this.describe(close)}`)
      return
    }
    if (token.type === 'operator' && token.value === '!') {
      const fn = this.next()
      if (fn.type !== 'ident' || (fn.value !== 'contains' && fn.value !== 'match')) {
        this.fail('"!" must be followed by contains(…) or match(…)')
      }
      this.func(fn.value)
      return
    }
    if (token.type !== 'ident') this.fail(`expected a condition but found ${this.describe(token)}`)
    if (token.value === 'contains' || token.value === 'match') {
      this.func(token.value)
      return
    }
    this.field(token.value)
    const op = this.next()
    if (op.type !== 'operator' || !COMPARISON_OPERATORS.has(op.value)) {
      this.fail(`expected a comparison operator (=, !=, <, <=, >, >=) after ${token.value} but found ${this.describe(op)}`)
    }
    const value = this.next()
    const isLiteral =
      value.type === 'string' ||
      value.type === 'number' ||
      value.type === 'null' ||
      (value.type === 'ident' && (value.value === 'true' || value.value === 'false'))
    if (!isLiteral) this.fail(`expected a value ("text", number, true, false or null) after ${token.value} ${op.value} but found ${this.describe(value)}`)
  }

  private field(name: string): void {
    const [head = '', ...path] = name.split('.')
    if (!FIELD_HEADS.has(head)) {
      this.fail(`unknown field "${name}": use type, event, name, userId, properties.<path>, traits.<path> or context.<path>`)
    }
    if (PATH_HEADS.has(head) && path.length === 0) this.fail(`"${head}" needs a path, e.g. ${head}.email`)
  }

  private func(name: string): void {
    if (this.next().type !== 'parenleft') this.fail(`${name} must be followed by "("`)
    const field = this.next()
    if (field.type !== 'ident') this.fail(`${name}() needs a field as its 1st argument`)
    this.field(field.value)
    if (field.value === 'type') this.fail(`${name}() does not support the field "type"`)
    if (this.next().type !== 'comma') this.fail(`${name}() needs two arguments separated by ","`)
    const value = this.next()
    if (value.type !== 'string') this.fail(`${name}() needs a "quoted string" as its 2nd argument`)
    if (name === 'match' && !/^"\*|\*"$/.test(value.value)) {
      this.fail('match() needs a pattern that starts or ends with * (e.g. "Audience*")')
    }
    if (this.next().type !== 'parenright') this.fail(`${name}() must end with ")"`)
  }
}

export function compileTrigger(fql: string): CompiledTrigger {
  const invalid = (problem: string): never => {
    throw new ConfigError(`Invalid trigger ${JSON.stringify(fql)}: ${problem}.`, 'trigger')
  }
  if (typeof fql !== 'string' || fql.trim() === '') invalid('the trigger is empty')
  const lexed = fqlLexer.lex(fql)
  if (lexed.error) invalid(lexed.error.message)
  const check = new GrammarCheck(joinDottedIdents(lexed.tokens))
  try {
    check.run()
  } catch (err) {
    invalid((err as Error).message)
  }
  const ast = subscriptions.parseFql(fql)
  if ('error' in ast) invalid((ast.error as Error)?.message || 'it could not be parsed')
  const parsed = ast as FqlAst
  return {
    fql,
    warnings: check.warnings,
    matches: (event: unknown) => subscriptions.validate(parsed, event)
  }
}
