/** A warehouse for the warehouse sync tests: a fresh PostgreSQL database with a customer table. */
import type { PgDatabase } from '../helpers/pg.js'

export const customerEmail = (i: number) => `customer${i}@warehouse.example.com`

/** `crm.customers` with rows `ids` (all active), each with an email and, for even ids, a phone. */
export async function createCustomers(pg: PgDatabase, ids: number[]): Promise<void> {
  await pg.query('CREATE SCHEMA crm')
  await pg.query('CREATE TABLE crm.customers (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, region TEXT, active BOOLEAN NOT NULL DEFAULT true)')
  await insertCustomers(pg, ids)
}

export async function insertCustomers(pg: PgDatabase, ids: number[]): Promise<void> {
  await pg.query(
    `INSERT INTO crm.customers (id, email, phone, region)
     SELECT i, 'customer' || i || '@warehouse.example.com', CASE WHEN i % 2 = 0 THEN '+1415' || lpad(i::text, 7, '0') END, 'US' FROM unnest($1::int[]) AS i`,
    [ids]
  )
}

/** A config with one native destination on `apiToken`'s emulator and the warehouse source `warehouse`. */
export function warehouseConfig(o: { url: string; query: string; every?: string; audienceName?: string }): string {
  return JSON.stringify({
    destinations: [
      {
        name: 'tiktok',
        mode: 'native',
        accessToken: 'emulator-access-token',
        mappings: [
          { name: 'Add', action: 'addToAudience', mapping: { send_advertising_id: false } },
          { name: 'Remove', action: 'removeFromAudience', mapping: { send_advertising_id: false } }
        ],
        audiences: [{ key: 'vip_customers', name: o.audienceName ?? 'VIP customers', advertiserId: '7000000000000000001' }]
      }
    ],
    sources: [{ name: 'warehouse', kind: 'postgres', url: o.url, query: o.query, destination: 'tiktok', audience: 'vip_customers', every: o.every ?? '1h' }],
    delivery: { windowMs: 10 }
  })
}
