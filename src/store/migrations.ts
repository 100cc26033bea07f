import type { Db, Dialect } from './db.js'
import { encodePack, insertPacks, PackBody } from './sql/queue-packs.js'
import { packChangeOfRow } from './sql/changes.js'
// A pure function of the event (no pipeline state): the samples at rest are redacted as new ones are.
import { redactEvent } from '../pipeline/redact.js'

/**
 * The schema, one entry per version, written once for both databases: `{{id}}` becomes each
 * dialect's auto-increment key. Applied automatically at open, in order, each in a transaction.
 */
type Migration = string | { sql: string; data: (db: Db) => Promise<void> }

const MIGRATIONS: Migration[] = [
  /* 1: configuration, events, queue, request log */ `
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
`,
  /* 2: OAuth states (random, single use, expiring), shared by every process */ `
CREATE TABLE oauth_states (
  state TEXT PRIMARY KEY,
  destination_id BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
`,
  /* 3: mirror sync — the last synced member list of an audience, as hashes only */ `
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
`,
  /* 4: events are routed in the transaction that records them: no "unrouted" rows to find */ `
DROP INDEX events_unrouted;
`,
  /* 5: outcome totals per 10-second slot (Event Delivery and /api/stats read these instead of
        scanning every change); failed changes (dead letters) get their own small index instead of
        an index over every change's outcome. `shard` keeps concurrent writers off one row. */ `
CREATE TABLE outcome_totals (
  scope TEXT NOT NULL,
  scope_id BIGINT NOT NULL,
  slot BIGINT NOT NULL,
  shard TEXT NOT NULL,
  received BIGINT NOT NULL DEFAULT 0,
  delivered BIGINT NOT NULL DEFAULT 0,
  superseded BIGINT NOT NULL DEFAULT 0,
  failed BIGINT NOT NULL DEFAULT 0,
  retried BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, scope_id, slot, shard)
);
DROP INDEX changes_outcome;
CREATE INDEX changes_failed ON changes (destination_id, id) WHERE status = 'failed';
`,
  /* 6: the queue holds packs — the changes one transaction queued for one partition, in order, as
        one row — instead of a row per change: a row per change cost more than everything else a
        change costs together (three index updates when queued, a read and an update when settled).
        Settled changes leave nothing behind but the outcome totals, except failed ones (dead
        letters, still rows of `changes`). Events record how many changes they made (0: filtered).
        Pending changes of older versions move into packs. */ {
    sql: `
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
`,
    data: movePendingChangesIntoPacks
  },
  /* 7: pack bodies become lines (queue-packs.ts): read back by cutting each line at three commas
        instead of parsing the whole body as JSON. Packs written as JSON are rewritten. */ {
    sql: '',
    data: packBodiesAsLines
  },
  /* 8: a source's shared secret (encrypted, like tokens): when set, `/v1/webhook` requires Segment's
        X-Signature HMAC (src/server/webhook/signature.ts). */
  `ALTER TABLE sources ADD COLUMN shared_secret TEXT;`,
  /* 9: console sessions signed out before they expire (the session token itself stays stateless),
        shared by every process; rows are dropped once the session would have expired anyway */ `
CREATE TABLE revoked_sessions (
  session_id TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
`,
  /* 10: identifier drops: identifiers a mapping dropped (rejected or whitespace only), per destination,
     identifier, reason and 10-second slot (identifier-drops.ts). Failure samples kept by earlier
     versions are redacted again: those masked only identifier keys, not emails or phones elsewhere
     (a userId that is an email). */ {
    sql: `
CREATE TABLE identifier_drops (
  destination_id BIGINT NOT NULL,
  slot BIGINT NOT NULL,
  identifier TEXT NOT NULL,
  reason TEXT NOT NULL,
  shard TEXT NOT NULL,
  n BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (destination_id, slot, identifier, reason, shard)
);
`,
    data: redactKeptSamples
  },
  /* 11: routing (issue 20): the demo destination seeded on first start is flagged — it stops
        auto-connecting once the user has a destination of their own (one seeded before this
        version is found by its name) — and the events routing skips as not for a destination
        are counted per destination, reason and 10-second slot, like outcome_totals. */ `
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
`,
  /* 12: deletion and consent (src/lifecycle/forget): which hashed identifiers were queued as adds to
        which partition (destination × advertisers × audience), with the hash of the event's userId
        when it had one — never a raw identifier; the audit of every removal; a destination's
        Segment consent category, and whether it records its adds (`rememberMembers`). */ `
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
`
]

/** Migration 6: every pending change row becomes part of a pack of its partition, order kept. */
async function movePendingChangesIntoPacks(db: Db): Promise<void> {
  const partitions = await db.all<{ p: number }>(`SELECT DISTINCT partition_id AS p FROM changes WHERE status = 'pending' AND partition_id IS NOT NULL`)
  for (const { p } of partitions) {
    let after = 0
    for (;;) {
      const rows = await db.all<{ id: number; event_id: number | null; destination_id: number; mapping_id: number | null; batch_key: string | null; ids: string | null; payload: string | null; created_at: number }>(
        `SELECT id, event_id, destination_id, mapping_id, batch_key, ids, payload, created_at FROM changes
         WHERE partition_id = $1 AND status = 'pending' AND id > $2 ORDER BY id LIMIT 5000`,
        [p, after]
      )
      if (rows.length === 0) break
      after = Number(rows[rows.length - 1].id)
      await insertPacks(db, [{
        partitionId: Number(p),
        destinationId: Number(rows[0].destination_id),
        createdAt: Number(rows[0].created_at),
        body: PackBody.of(rows.map(packChangeOfRow))
      }])
    }
  }
  await db.run(`DELETE FROM changes WHERE status = 'pending'`)
  // Only now: the reads above page through the pending changes of each partition by this index
  // (without it, every page scans the whole table, settled rows included).
  await db.exec('DROP INDEX changes_queue')
}

/** Migration 7: every pack body written as JSON (`{"k": [keys], "r": [[eventId, mappingId, keyIndex, ...tail]]}`) becomes lines. */
async function packBodiesAsLines(db: Db): Promise<void> {
  let after = 0
  for (;;) {
    const rows = await db.all<{ id: number; body: string }>(`SELECT id, body FROM queue_packs WHERE id > $1 ORDER BY id LIMIT 200`, [after])
    if (rows.length === 0) return
    after = Number(rows[rows.length - 1].id)
    for (const r of rows) {
      if (!r.body.startsWith('{')) continue
      const { k, r: entries } = JSON.parse(r.body) as { k: string[]; r: (number | string | null)[][] }
      // An old entry's elements after the key index are its row tail, as JSON values.
      const changes = entries.map((e) => ({ eventId: e[0] as number | null, mappingId: e[1] as number | null, batchKey: k[e[2] as number], ids: null, payload: null, json: JSON.stringify(e.slice(3)).slice(1, -1) }))
      await db.run('UPDATE queue_packs SET body = $2 WHERE id = $1', [r.id, encodePack(changes)])
    }
  }
}

/** Migration "identifier drops": every kept failure sample (events.body) redacted as samples are now. */
async function redactKeptSamples(db: Db): Promise<void> {
  let after = 0
  for (;;) {
    const rows = await db.all<{ id: number; body: string }>(`SELECT id, body FROM events WHERE id > $1 AND body IS NOT NULL ORDER BY id LIMIT 200`, [after])
    if (rows.length === 0) return
    after = Number(rows[rows.length - 1].id)
    for (const r of rows) {
      let event: unknown
      try {
        event = JSON.parse(r.body)
      } catch {
        event = r.body // not JSON: redacted as text
      }
      const body = JSON.stringify(redactEvent(event))
      if (body !== r.body) await db.run('UPDATE events SET body = $2 WHERE id = $1', [r.id, body])
    }
  }
}

function forDialect(sql: string, dialect: Dialect): string {
  return sql
    .replaceAll('{{id}}', dialect === 'sqlite' ? 'INTEGER PRIMARY KEY' : 'BIGSERIAL PRIMARY KEY')
    // SQLite: the primary key is the table (one b-tree, not a table and an index beside it).
    .replaceAll('{{without_rowid}}', dialect === 'sqlite' ? ' WITHOUT ROWID' : '')
}

export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the database to the newest schema (or only up to version `upTo`, for tests of a
 * migration). Safe to run concurrently from several processes.
 */
export async function migrate(db: Db, opts: { upTo?: number } = {}): Promise<void> {
  // PostgreSQL: one migrator at a time across processes. CREATE TABLE IF NOT EXISTS is not safe
  // when two processes run it at once on a fresh database (a unique violation in pg_type), so it
  // takes the same lock.
  await db.tx(async (t) => {
    if (t.dialect === 'postgres') await t.run('SELECT pg_advisory_xact_lock(774411)')
    await t.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)')
  })
  const last = Math.min(opts.upTo ?? MIGRATIONS.length, MIGRATIONS.length)
  for (let v = 1; v <= last; v++) {
    await db.tx(async (t) => {
      if (t.dialect === 'postgres') await t.run('SELECT pg_advisory_xact_lock(774411)')
      const done = await t.get('SELECT version FROM schema_migrations WHERE version = $1', [v])
      if (done) return
      const m = MIGRATIONS[v - 1]
      await t.exec(forDialect(typeof m === 'string' ? m : m.sql, t.dialect))
      if (typeof m !== 'string') await m.data(t)
      await t.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v, Date.now()])
    })
  }
}
