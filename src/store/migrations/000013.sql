-- Migration 13: audience health (issue 16.2, src/lifecycle/health): every read of a connected audience's size,
-- validity and expiry from TikTok, kept over time; and the `meta` row that lets one process per
-- interval poll (the epoch ms the next round is due, claimed by compare-and-set).
CREATE TABLE audience_health (
  id {{id}},
  destination_id BIGINT NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
  audience_key TEXT NOT NULL,
  advertiser_id TEXT NOT NULL,
  external_audience_id TEXT NOT NULL,
  checked_at BIGINT NOT NULL,
  cover_num BIGINT,
  is_valid INTEGER,
  is_expiring INTEGER,
  expires_at BIGINT,
  error TEXT
);
CREATE INDEX audience_health_by_audience ON audience_health (destination_id, audience_key, checked_at);
INSERT INTO meta (key, value) VALUES ('audience_health_due', '0');
