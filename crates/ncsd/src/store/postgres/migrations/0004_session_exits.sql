-- Each session's exits merged with max (`summary::exit_key`: sequence * 2 + exitStatus; -1:
-- none), so the exit with the highest sequence decides between completed and failed.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS exit_key BIGINT NOT NULL DEFAULT -1;

-- Small key/value facts (the rules version the derived columns were made with).
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
