-- ncsd PostgreSQL schema, version 1. The same tables and columns as sqlite/schema.sql, so
-- `ncsd copy` moves rows between the two backends unchanged and both adapters answer alike.
-- Applied by sqlx's migrator at start-up, in one transaction, under its advisory lock, so several
-- instances starting together apply it once.
--
-- Types: every integer is BIGINT because SQLite's INTEGER and our Rust fields are 64-bit
-- (millisecond timestamps do not fit INT). Identifier columns (notice ids, sids, content keys)
-- use COLLATE "C": byte order, like SQLite's BINARY, so `ORDER BY sid` and the session cursor
-- agree between backends and do not depend on the locale the database was created with.

-- Every distinct notification (one row per noticeId), raw body exactly as received.
-- `seq` is the storage cursor. A sequence alone hands out numbers in call order, not commit
-- order; the writer takes an advisory lock before allocating any (see postgres/writer.rs), so
-- seqs also become visible in increasing order across instances.
CREATE TABLE events (
    seq                 BIGSERIAL PRIMARY KEY,
    notice_id           TEXT COLLATE "C" NOT NULL UNIQUE,  -- idempotency is enforced here
    product_id          BIGINT NOT NULL,
    event_type          BIGINT NOT NULL,
    notify_ms           BIGINT,
    sid                 TEXT COLLATE "C",
    cname               TEXT,
    uid                 TEXT,
    sequence            BIGINT,
    sendts              BIGINT,
    -- BYTEA, not JSONB: the signature covers these exact bytes, and JSONB would re-serialise.
    body                BYTEA  NOT NULL,
    -- Signature headers as a JSON object's text, kept as written (never queried into).
    headers             TEXT   NOT NULL,
    received_at_ms      BIGINT NOT NULL,
    last_received_at_ms BIGINT NOT NULL,
    deliveries          BIGINT NOT NULL DEFAULT 1,
    -- Set when another noticeId already carried the same event (redundant notification path).
    copy_of             TEXT COLLATE "C",
    content_key         TEXT COLLATE "C",
    session_flags       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX events_sid ON events (sid, sequence) WHERE sid IS NOT NULL;
CREATE INDEX events_received ON events (received_at_ms);

-- First noticeId seen for each redundant-copy key; the primary key makes "first" a database
-- decision even with several instances writing.
CREATE TABLE content_keys (
    content_key TEXT COLLATE "C" PRIMARY KEY,
    notice_id   TEXT COLLATE "C" NOT NULL
);

-- Deliveries after the first one of a noticeId (NCS resends with a new notifyMs). NULLs stay
-- distinct in the unique key (PostgreSQL's default, as in SQLite): a repeat without notifyMs is
-- always recorded.
CREATE TABLE deliveries (
    id             BIGSERIAL PRIMARY KEY,
    notice_id      TEXT COLLATE "C" NOT NULL,
    received_at_ms BIGINT NOT NULL,
    notify_ms      BIGINT,
    UNIQUE (notice_id, received_at_ms, notify_ms)
);

-- One row per Cloud Recording session, merged commutatively at ingest (sum / min / max / bit-or)
-- so the list endpoint can filter by phase without folding every session, and two instances
-- updating the same session never lose each other's contribution.
CREATE TABLE sessions (
    sid              TEXT COLLATE "C" PRIMARY KEY,
    cname            TEXT,
    flags            BIGINT NOT NULL DEFAULT 0,
    event_count      BIGINT NOT NULL DEFAULT 0,
    first_event_ms   BIGINT,
    last_event_ms    BIGINT,
    last_activity_ms BIGINT NOT NULL,
    last_seq         BIGINT NOT NULL
);
CREATE INDEX sessions_activity ON sessions (last_activity_ms DESC, sid DESC);

-- Signed bodies that could not be read as an NCS envelope: kept, never dropped.
CREATE TABLE quarantine (
    id             BIGSERIAL PRIMARY KEY,
    received_at_ms BIGINT NOT NULL,
    reason         TEXT   NOT NULL,
    body           BYTEA  NOT NULL,
    headers        TEXT   NOT NULL,
    digest         TEXT   NOT NULL UNIQUE  -- sha256(received_at_ms, body): makes `ncsd copy` idempotent
);
