/** Loading what a route's `:id` names, or a 404. */
import { getDestination } from '../../store/sql/config.js'
import { getMapping } from '../../store/sql/admin-config.js'
import type { Destination, Mapping } from '../../store/model.js'
import type { ServerContext } from '../context.js'
import { notFound } from './errors.js'

export async function destinationOr404(ctx: ServerContext, id: number): Promise<Destination> {
  const d = await getDestination(ctx.store.db, ctx.store.secrets, id)
  if (!d) throw notFound(`destination ${id}`)
  return d
}

export async function mappingOr404(ctx: ServerContext, id: number): Promise<Mapping> {
  const m = await getMapping(ctx.store.db, id)
  if (!m) throw notFound(`mapping ${id}`)
  return m
}
