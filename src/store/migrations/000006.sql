-- Migration 6:
-- the queue holds packs — the changes one transaction queued for one partition, in order, as one
-- row — instead of a row per change: a row per change cost more than everything else a change costs
-- together (three index updates when queued, a read and an update when settled). Settled changes
-- leave nothing behind but the outcome totals, except failed ones (dead letters, still rows of
-- `changes`). Events record how many changes they made (0: filtered). Pending changes of older
-- versions move into packs.
CREATE TABLE queue_packs (
  id {{id}},
  partition_id BIGINT NOT NULL,
  destination_id BIGINT NOT NULL,
  first_event_id BIGINT,
  last_event_id BIGINT,
  n INTEGER NOT NULL,
  open INTEGER NOT NULL,
  settled TEXT,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX queue_packs_queue ON queue_packs (partition_id, id);
ALTER TABLE events ADD COLUMN n_changes INTEGER;
ALTER TABLE partitions ADD COLUMN last_error_code TEXT;
ALTER TABLE changes ADD COLUMN resolved_by TEXT;
CREATE INDEX changes_failed_partition ON changes (partition_id, id) WHERE status = 'failed';
