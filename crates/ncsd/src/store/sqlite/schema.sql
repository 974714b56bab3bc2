-- ncsd SQLite schema, version 4. Applied at start-up inside one transaction, guarded by
-- PRAGMA user_version so reopening an existing file is a no-op; every statement is idempotent,
-- so an older file is brought up to date by the same script.

-- Every distinct notification (one row per noticeId), raw body exactly as received.
-- `seq` is the storage cursor: it only grows, in commit order (SQLite has one writer).
CREATE TABLE IF NOT EXISTS events (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    notice_id           TEXT    NOT NULL UNIQUE,   -- idempotency is enforced here
    product_id          INTEGER NOT NULL,
    event_type          INTEGER NOT NULL,
    notify_ms           INTEGER,
    sid                 TEXT,
    cname               TEXT,
    uid                 TEXT,
    sequence            INTEGER,
    sendts              INTEGER,
    body                BLOB    NOT NULL,
    headers             TEXT    NOT NULL,
    received_at_ms      INTEGER NOT NULL,
    last_received_at_ms INTEGER NOT NULL,
    deliveries          INTEGER NOT NULL DEFAULT 1,
    -- Set when another noticeId already carried the same event (redundant notification path).
    copy_of             TEXT,
    content_key         TEXT,
    session_flags       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_sid ON events (sid, sequence) WHERE sid IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_received ON events (received_at_ms);

-- Deliveries after the first one of a noticeId (NCS resends with a new notifyMs).
CREATE TABLE IF NOT EXISTS deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    notice_id      TEXT    NOT NULL,
    received_at_ms INTEGER NOT NULL,
    notify_ms      INTEGER,
    UNIQUE (notice_id, received_at_ms, notify_ms)
);

-- One row per Cloud Recording session, merged commutatively at ingest (sum / min / max / bit-or)
-- so the list endpoint can filter by phase without folding every session.
CREATE TABLE IF NOT EXISTS sessions (
    sid              TEXT PRIMARY KEY,
    cname            TEXT,
    flags            INTEGER NOT NULL DEFAULT 0,
    event_count      INTEGER NOT NULL DEFAULT 0,
    first_event_ms   INTEGER,
    last_event_ms    INTEGER,
    last_activity_ms INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_activity ON sessions (last_activity_ms DESC, sid DESC);

-- Version 4: finished sessions' answers, kept so a restart need not fold them again. Derived
-- data, used only while `last_seq` matches the session's summary row (see KeptState). A rowid
-- table: an answer (1-3 KiB) fits in its row on a table page written in order, and only the
-- small sid key lands on a random page (keyed by sid alone, each answer spilled into overflow
-- pages: 15 KB of WAL per answer kept, against ~4).
CREATE TABLE IF NOT EXISTS session_states (
    id       INTEGER PRIMARY KEY,
    sid      TEXT    NOT NULL UNIQUE,
    last_seq INTEGER NOT NULL,
    format   TEXT    NOT NULL,
    state    BLOB    NOT NULL
);

-- Small key/value facts; `/healthz` writes a probe row here to learn whether writes work again
-- after a failure (disk full, read-only file).
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
) WITHOUT ROWID;

-- Signed bodies that could not be read as an NCS envelope: kept, never dropped.
CREATE TABLE IF NOT EXISTS quarantine (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at_ms INTEGER NOT NULL,
    reason         TEXT    NOT NULL,
    body           BLOB    NOT NULL,
    headers        TEXT    NOT NULL,
    digest         TEXT    NOT NULL UNIQUE  -- sha256(received_at_ms, body): makes `ncsd copy` idempotent
);

-- Version 3: a redundant copy's original is found through events (sid, sequence) and its
-- content_key column; the separate key table (version 2) put every event on a random page.
DROP TABLE IF EXISTS content_keys;
