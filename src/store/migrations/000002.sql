-- Migration 2:
-- OAuth states (random, single use, expiring), shared by every process
CREATE TABLE oauth_states (
  state TEXT PRIMARY KEY,
  destination_id BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
