-- Migration 5:
-- outcome totals per 10-second slot (Event Delivery and /api/stats read these instead of scanning
-- every change); failed changes (dead letters) get their own small index instead of an index over
-- every change's outcome. `shard` keeps concurrent writers off one row.
CREATE TABLE outcome_totals (
  scope TEXT NOT NULL,
  scope_id BIGINT NOT NULL,
  slot BIGINT NOT NULL,
  shard TEXT NOT NULL,
  received BIGINT NOT NULL DEFAULT 0,
  delivered BIGINT NOT NULL DEFAULT 0,
  superseded BIGINT NOT NULL DEFAULT 0,
  failed BIGINT NOT NULL DEFAULT 0,
  retried BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, scope_id, slot, shard)
);
DROP INDEX changes_outcome;
CREATE INDEX changes_failed ON changes (destination_id, id) WHERE status = 'failed';
