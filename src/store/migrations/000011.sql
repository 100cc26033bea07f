-- Migration 11:
-- routing (issue 20): the demo destination seeded on first start is flagged — it stops
-- auto-connecting once the user has a destination of their own (one seeded before this version is
-- found by its name) — and the events routing skips as not for a destination are counted per
-- destination, reason and 10-second slot, like outcome_totals.
ALTER TABLE destinations ADD COLUMN demo INTEGER NOT NULL DEFAULT 0;
UPDATE destinations SET demo = 1 WHERE name = 'TikTok Audiences (emulator)';
CREATE TABLE filtered_totals (
  destination_id BIGINT NOT NULL,
  reason TEXT NOT NULL,
  slot BIGINT NOT NULL,
  shard TEXT NOT NULL,
  n BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (destination_id, reason, slot, shard)
);
