/** What a legacy mapping's trigger says about its audience: the audience key and the event name it waits for. */
import { subscriptions, type FqlAst } from '../../destination/segment-libraries.js'

/** `name = "value"` conditions of an `and`-only trigger (an `or` branch does not pin anything). */
function equalities(ast: FqlAst, out: FqlAst[] = []): FqlAst[] {
  if (ast.type === 'group') {
    if (ast.operator === 'and') for (const c of ast.children ?? []) equalities(c, out)
    return out
  }
  if (ast.operator === '=' && typeof ast.value === 'string') out.push(ast)
  return out
}

export interface TriggerFacts {
  /** `context.personas.computation_key = "x"` or `properties.audience_key = "x"`. */
  audienceKey?: string
  /** `event = "Audience Entered"`. */
  event?: string
}

export function triggerFacts(fql: string): TriggerFacts {
  const ast = subscriptions.parseFql(fql)
  if ('error' in ast) return {}
  const facts: TriggerFacts = {}
  for (const c of equalities(ast as FqlAst)) {
    const value = c.value as string
    if (c.type === 'event') facts.event ??= value
    else if (c.type === 'event-context' && c.name === 'personas.computation_key') facts.audienceKey ??= value
    else if (c.type === 'event-property' && c.name === 'audience_key') facts.audienceKey ??= value
  }
  return facts
}

/** An audience key from a TikTok audience's name: `VIP Customers!` → `vip_customers`. */
export function keyFromName(name: string, audienceId: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
  return slug || `audience_${audienceId}`
}
