-- Migration 14: warehouse sync (issue 15.4, src/warehouse/): config sources of kind postgres — the query
-- (its URL encrypted, like tokens), the audience it mirrors into and its schedule; the next
-- slot (taken by compare-and-set, so one process of many fires it) and the lease of the run
-- in progress (an overlapping run is skipped) — and one row per run with its figures.
CREATE TABLE warehouse_syncs (
  id {{id}},
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  url TEXT NOT NULL,
  query TEXT NOT NULL,
  destination_id BIGINT NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
  audience_key TEXT NOT NULL,
  every_ms BIGINT NOT NULL,
  next_run_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE sync_runs (
  id {{id}},
  sync_id BIGINT NOT NULL REFERENCES warehouse_syncs(id) ON DELETE CASCADE,
  started_by TEXT NOT NULL,
  status TEXT NOT NULL,
  rows_read BIGINT NOT NULL DEFAULT 0,
  invalid BIGINT NOT NULL DEFAULT 0,
  added BIGINT NOT NULL DEFAULT 0,
  removed BIGINT NOT NULL DEFAULT 0,
  failed BIGINT NOT NULL DEFAULT 0,
  duration_ms BIGINT,
  error TEXT,
  started_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE INDEX sync_runs_by_sync ON sync_runs (sync_id, id);
