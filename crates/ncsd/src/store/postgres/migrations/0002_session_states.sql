-- Finished sessions' answers, kept so a restart (or another instance) need not fold them
-- again. Derived data, used only while last_seq matches the session's summary row.
CREATE TABLE session_states (
    sid      TEXT   PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    format   TEXT   NOT NULL,
    state    BYTEA  NOT NULL
);
