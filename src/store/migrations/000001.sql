-- Migration 1:
-- configuration, events, queue, request log
CREATE TABLE sources (
  id {{id}},
  name TEXT NOT NULL UNIQUE,
  write_key TEXT UNIQUE,
  created_at BIGINT NOT NULL
);
CREATE TABLE destinations (
  id {{id}},
  name TEXT NOT NULL UNIQUE,
  source_id BIGINT REFERENCES sources(id),
  mode TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 0,
  normalization TEXT NOT NULL DEFAULT 'recommended',
  default_phone_region TEXT,
  access_token TEXT,
  advertiser_ids TEXT NOT NULL DEFAULT '[]',
  batch_size INTEGER NOT NULL DEFAULT 10000,
  auto_connect INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'active',
  status_reason TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE mappings (
  id {{id}},
  destination_id BIGINT NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  action TEXT NOT NULL,
  trigger_fql TEXT NOT NULL,
  mapping TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 0,
  position INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (destination_id, name)
);
CREATE TABLE audiences (
  id {{id}},
  source_id BIGINT NOT NULL REFERENCES sources(id),
  key TEXT NOT NULL,
  name TEXT,
  first_seen_at BIGINT,
  last_seen_at BIGINT,
  UNIQUE (source_id, key)
);
CREATE TABLE connections (
  id {{id}},
  destination_id BIGINT NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
  audience_key TEXT NOT NULL,
  audience_name TEXT,
  advertiser_id TEXT,
  external_audience_id TEXT,
  send_track INTEGER NOT NULL DEFAULT 1,
  send_identify INTEGER NOT NULL DEFAULT 0,
  enter_event TEXT NOT NULL DEFAULT 'Audience Entered',
  exit_event TEXT NOT NULL DEFAULT 'Audience Exited',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (destination_id, audience_key)
);
CREATE TABLE events (
  id {{id}},
  source_id BIGINT NOT NULL,
  message_id TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  type TEXT,
  name TEXT,
  body TEXT,
  routed_at BIGINT,
  UNIQUE (source_id, message_id)
);
CREATE INDEX events_unrouted ON events (id) WHERE routed_at IS NULL;
CREATE TABLE partitions (
  id {{id}},
  key TEXT NOT NULL UNIQUE,
  destination_id BIGINT NOT NULL,
  pending INTEGER NOT NULL DEFAULT 0,
  ready_at BIGINT NOT NULL DEFAULT 0,
  retry_at BIGINT NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  first_failure_at BIGINT,
  last_error TEXT,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE changes (
  id {{id}},
  event_id BIGINT,
  destination_id BIGINT NOT NULL,
  mapping_id BIGINT,
  partition_id BIGINT,
  action TEXT NOT NULL,
  batch_key TEXT,
  ids TEXT,
  payload TEXT,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  error_code TEXT,
  request_ref BIGINT,
  created_at BIGINT NOT NULL,
  done_at BIGINT
);
CREATE INDEX changes_queue ON changes (partition_id, id) WHERE status = 'pending';
CREATE INDEX changes_event ON changes (event_id);
CREATE INDEX changes_outcome ON changes (destination_id, status, done_at);
CREATE TABLE requests (
  id {{id}},
  destination_id BIGINT,
  partition_id BIGINT,
  kind TEXT NOT NULL,
  sent_at BIGINT NOT NULL,
  duration_ms DOUBLE PRECISION,
  http_status INTEGER,
  code INTEGER,
  message TEXT,
  tiktok_request_id TEXT,
  row_count INTEGER,
  outcome TEXT NOT NULL,
  request_sample TEXT,
  response TEXT
);
CREATE INDEX requests_time ON requests (destination_id, sent_at);
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT
);
INSERT INTO meta (key, value) VALUES ('config_version', '0');
