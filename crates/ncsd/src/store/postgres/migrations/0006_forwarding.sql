-- Forwarding. Each destination's progress through the event and lifecycle logs, shared by every
-- instance, and its outbox: one row per message (per destination and message id) with the state
-- of its delivery and the lease of the instance sending it, so a message in flight or waiting
-- for a retry survives a crash and is sent by one instance at a time.
CREATE TABLE IF NOT EXISTS destinations (
    name             TEXT COLLATE "C" PRIMARY KEY,
    state            TEXT   NOT NULL DEFAULT 'active',
    event_cursor     BIGINT NOT NULL,
    lifecycle_cursor BIGINT NOT NULL,
    last_success_ms  BIGINT,
    last_error       TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
    seq             BIGSERIAL PRIMARY KEY,
    destination     TEXT COLLATE "C" NOT NULL,
    id              TEXT COLLATE "C" NOT NULL,
    kind            TEXT   NOT NULL,
    sid             TEXT COLLATE "C",
    body            TEXT   NOT NULL,
    state           TEXT   NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    created_ms      BIGINT NOT NULL,
    delivered_ms    BIGINT,
    last_error      TEXT,
    UNIQUE (destination, id)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (destination, state, next_attempt_ms);
CREATE INDEX IF NOT EXISTS outbox_sid ON outbox (destination, sid, seq) WHERE sid IS NOT NULL;
CREATE TABLE IF NOT EXISTS outbox_attempts (
    id         BIGSERIAL PRIMARY KEY,
    outbox_seq BIGINT NOT NULL,
    at_ms      BIGINT NOT NULL,
    status     BIGINT,
    error      TEXT,
    latency_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_attempts_message ON outbox_attempts (outbox_seq, id);
