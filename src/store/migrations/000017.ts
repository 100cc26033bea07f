/**
 * Migration 17 (frozen), PostgreSQL only: queue pack bodies are compressed with lz4 instead of the
 * default pglz, or not at all where the server was built without lz4. pglz spent a fifth of the
 * database's CPU on ingestion trying to compress bodies it could not (hashed identifiers), WAL
 * 675 B/event either way; lz4 cut database CPU 22 → 15.5 µs/event and WAL to 583 B/event
 * (bench/ingestion.ts, 2026-12-06). Packs live seconds, so compressing them buys no disk.
 */
import type { Db } from '../db.js'

export async function packBodiesLz4(db: Db): Promise<void> {
  if (db.dialect !== 'postgres') return
  await db.exec(`DO $$
BEGIN
  EXECUTE 'ALTER TABLE queue_packs ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
  ALTER TABLE queue_packs ALTER COLUMN body SET STORAGE EXTERNAL;
END $$`)
}
