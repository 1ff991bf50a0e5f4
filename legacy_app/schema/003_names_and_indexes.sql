-- Version 3: a display name per site, and indexes for the dashboard's per-site queries.
ALTER TABLE sites ADD COLUMN name TEXT NOT NULL DEFAULT '';

CREATE INDEX checks_by_site ON checks (site_id, id);
CREATE INDEX checks_by_run ON checks (run_id);
CREATE INDEX runs_by_checker ON runs (checker, id);
