-- Several Agora projects on one ncsd: each event, session and lifecycle event belongs to the
-- project whose path and secret took it. Rows stored before belong to `default`, the project
-- the flags define. (Adding a column with a constant default rewrites no row.)
ALTER TABLE events ADD COLUMN IF NOT EXISTS project TEXT NOT NULL DEFAULT 'default';
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS project TEXT NOT NULL DEFAULT 'default';
ALTER TABLE lifecycle ADD COLUMN IF NOT EXISTS project TEXT NOT NULL DEFAULT 'default';
-- No index on events.project (each costs every delivery an index insert): a project filter on
-- the event list walks the log in order.
CREATE INDEX IF NOT EXISTS sessions_project ON sessions (project, last_activity_ms DESC, sid DESC);
CREATE INDEX IF NOT EXISTS lifecycle_project ON lifecycle (project, seq);
