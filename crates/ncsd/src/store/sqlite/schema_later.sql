-- Versions 5 and later, applied to any older file (every statement is idempotent).
-- Version 5. Its columns are added first, by `migrate` (ALTER TABLE has no IF NOT EXISTS):
--   quarantine.body_digest TEXT, quarantine.deliveries INTEGER NOT NULL DEFAULT 1,
--   quarantine.last_received_at_ms INTEGER.
-- A signed body that cannot be read, delivered again (NCS resends what it believes failed, and
-- anyone holding a captured request can replay it), is counted on its row instead of stored
-- again. `body_digest` is sha256(body); rows kept before version 5 have none, so they never
-- collide with each other.
CREATE UNIQUE INDEX IF NOT EXISTS quarantine_body ON quarantine (body_digest);

-- Every filter of the list endpoints reads an index, in cursor order: a filter that matches
-- little must not scan the whole table to find it.
CREATE INDEX IF NOT EXISTS events_type ON events (event_type, seq);
CREATE INDEX IF NOT EXISTS events_product ON events (product_id, seq);
CREATE INDEX IF NOT EXISTS events_cname ON events (cname, seq) WHERE cname IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_cname
    ON sessions (cname, last_activity_ms DESC, sid DESC) WHERE cname IS NOT NULL;

-- Version 7: lifecycle events ("recording X completed"), each (sid, kind) recorded at most once;
-- `seq` is the order recorded, `placement` the newest event cursor at that moment (it places
-- the message in the live stream). The deriver's progress is `meta.lifecycle_cursor`.
CREATE TABLE IF NOT EXISTS lifecycle (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    placement      INTEGER NOT NULL,
    id             TEXT    NOT NULL,
    sid            TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    cname          TEXT,
    recorded_at_ms INTEGER NOT NULL,
    message        TEXT    NOT NULL,
    UNIQUE (sid, kind)
);
CREATE INDEX IF NOT EXISTS lifecycle_kind ON lifecycle (kind, seq);
CREATE INDEX IF NOT EXISTS lifecycle_cname ON lifecycle (cname, seq) WHERE cname IS NOT NULL;

-- Version 8: forwarding. Each destination's progress through the event and lifecycle logs, and
-- its outbox: one row per message (per destination and message id), with the state of its
-- delivery, so a message in flight or waiting for a retry survives a crash.
CREATE TABLE IF NOT EXISTS destinations (
    name             TEXT PRIMARY KEY,
    state            TEXT    NOT NULL DEFAULT 'active',
    event_cursor     INTEGER NOT NULL,
    lifecycle_cursor INTEGER NOT NULL,
    last_success_ms  INTEGER,
    last_error       TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    destination     TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    sid             TEXT,
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  INTEGER,
    created_ms      INTEGER NOT NULL,
    delivered_ms    INTEGER,
    last_error      TEXT,
    UNIQUE (destination, id)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (destination, state, next_attempt_ms);
CREATE INDEX IF NOT EXISTS outbox_sid ON outbox (destination, sid, seq) WHERE sid IS NOT NULL;
CREATE TABLE IF NOT EXISTS outbox_attempts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_seq INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    status     INTEGER,
    error      TEXT,
    latency_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_attempts_message ON outbox_attempts (outbox_seq, id);
