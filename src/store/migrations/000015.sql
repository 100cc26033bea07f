-- Migration 15: deletion and consent (src/lifecycle/forget): which hashed identifiers were queued as
-- adds to which partition (destination × advertisers × audience), with the hash of the event's userId
-- when it had one — never a raw identifier; the audit of every removal; a destination's Segment
-- consent category, and whether it records its adds (`rememberMembers`).
ALTER TABLE destinations ADD COLUMN consent_category TEXT;
ALTER TABLE destinations ADD COLUMN remember_members INTEGER NOT NULL DEFAULT 0;
CREATE TABLE sent_identifiers (
  hash TEXT NOT NULL,
  partition_id BIGINT NOT NULL,
  id_type TEXT NOT NULL,
  user_hash TEXT,
  PRIMARY KEY (hash, partition_id, id_type)
){{without_rowid}};
CREATE INDEX sent_identifiers_user ON sent_identifiers (user_hash) WHERE user_hash IS NOT NULL;
CREATE TABLE forget_audits (
  id {{id}},
  requested_at BIGINT NOT NULL,
  origin TEXT NOT NULL,
  destination_id BIGINT,
  identifiers TEXT NOT NULL,
  audiences TEXT NOT NULL,
  finished_at BIGINT
);
