-- Version 2: every "check all" becomes a run with its checker, duration and count.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    checker      TEXT NOT NULL CHECK (checker IN ('legacy', 'bridge')),
    started_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at  TEXT,
    status       TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'failed')),
    planned      INTEGER NOT NULL,
    recorded     INTEGER NOT NULL DEFAULT 0,
    ok_count     INTEGER NOT NULL DEFAULT 0,
    duration_ms  REAL
);

ALTER TABLE checks ADD COLUMN run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL;
