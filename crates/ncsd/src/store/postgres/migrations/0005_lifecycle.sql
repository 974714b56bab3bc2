-- Lifecycle events ("recording X completed"), each (sid, kind) recorded at most once, by any
-- instance; `seq` is the order recorded, `placement` the newest event cursor at that moment (it
-- places the message in the live stream). The deriver's progress is `meta.lifecycle_cursor`.
CREATE TABLE IF NOT EXISTS lifecycle (
    seq            BIGSERIAL PRIMARY KEY,
    placement      BIGINT NOT NULL,
    id             TEXT   NOT NULL,
    sid            TEXT COLLATE "C" NOT NULL,
    kind           TEXT COLLATE "C" NOT NULL,
    cname          TEXT,
    recorded_at_ms BIGINT NOT NULL,
    message        TEXT   NOT NULL,
    UNIQUE (sid, kind)
);
CREATE INDEX IF NOT EXISTS lifecycle_kind ON lifecycle (kind, seq);
CREATE INDEX IF NOT EXISTS lifecycle_cname ON lifecycle (cname, seq) WHERE cname IS NOT NULL;
