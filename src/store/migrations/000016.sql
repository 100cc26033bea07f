-- Migration 16: multi-advertiser fan-out (SPEC §5.7). A connection's first advertiser and its TikTok
-- audience stay on `connections` (so every connection of an older database is unchanged); each further
-- advertiser of the connection is a row here, with its own TikTok audience id (NULL until created) and
-- the reason its creation or check failed, if it did.
CREATE TABLE connection_targets (
  connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  advertiser_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  external_audience_id TEXT,
  error TEXT,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (connection_id, advertiser_id)
);
