-- Migration 10:
-- identifier drops: identifiers a mapping dropped (rejected or whitespace only), per destination,
-- identifier, reason and 10-second slot (identifier-drops.ts). Failure samples kept by earlier
-- versions are redacted again: those masked only identifier keys, not emails or phones elsewhere (a
-- userId that is an email).
CREATE TABLE identifier_drops (
  destination_id BIGINT NOT NULL,
  slot BIGINT NOT NULL,
  identifier TEXT NOT NULL,
  reason TEXT NOT NULL,
  shard TEXT NOT NULL,
  n BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (destination_id, slot, identifier, reason, shard)
);
