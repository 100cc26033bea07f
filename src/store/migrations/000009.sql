-- Migration 9:
-- console sessions signed out before they expire (the session token itself stays stateless), shared
-- by every process; rows are dropped once the session would have expired anyway
CREATE TABLE revoked_sessions (
  session_id TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
