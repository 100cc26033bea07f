-- Migration 3:
-- mirror sync — the last synced member list of an audience, as hashes only
CREATE TABLE mirror_members (
  destination_id BIGINT NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
  audience_key TEXT NOT NULL,
  member_key TEXT NOT NULL,
  email_hash TEXT,
  phone_hash TEXT,
  advertising_id_hash TEXT,
  synced_at BIGINT NOT NULL,
  PRIMARY KEY (destination_id, audience_key, member_key)
);
