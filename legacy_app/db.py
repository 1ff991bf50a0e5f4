"""SQLite storage plumbing: connections, WAL mode, and a schema that upgrades itself.

The schema lives in ``legacy_app/schema/NNN_name.sql``; file ``NNN`` brings the database
to version ``NNN``. The version is kept in ``PRAGMA user_version``, and every pending
migration runs in ONE ``BEGIN IMMEDIATE`` transaction, so two processes starting at once
never both migrate and a failed upgrade leaves the old schema intact.

Like most legacy Flask apps, the monitor opens one connection per request (kept on
``flask.g``) and closes it on teardown; code outside a request calls :func:`connect`.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from flask import Flask, current_app, g

logger = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
#: How long a writer waits for another writer before "database is locked" (ms).
BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Migration:
    """One schema step: the version it produces, its file name and its SQL statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def split_statements(script: str) -> tuple[str, ...]:
    """Split an SQL script into complete statements (comments and blank lines dropped)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:80]!r}")
    return tuple(statements)


def load_migrations() -> tuple[Migration, ...]:
    """Read the migration files in version order; versions must run 1, 2, 3... with no gap."""
    found = []
    for entry in resources.files("legacy_app").joinpath("schema").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name,
                                   split_statements(entry.read_text(encoding="utf-8"))))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"schema migrations must be numbered 001, 002, ... without gaps; "
                               f"found {migration.name} where version {expected:03d} was expected")
    return tuple(found)


#: The schema version this code expects.
SCHEMA_VERSION = len(load_migrations())


def connect(path: str | Path) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode with WAL, foreign keys and a busy timeout.

    Transactions are explicit (see :func:`transaction`); rows come back as
    :class:`sqlite3.Row`. The caller closes the connection.
    """
    if not str(path):
        raise ValueError("the database path is empty; set DATABASE to a file path or ':memory:'")
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=True)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if str(path) != ":memory:":
        mode = _enable_wal(conn)
        if mode.lower() != "wal":
            logger.warning("SQLite refused WAL mode for %s (got %s); writers will block readers", path, mode)
        # In WAL mode NORMAL is still safe against an application crash: a commit is
        # durable once the WAL is written; only a power loss may lose the last ones.
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _enable_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL, retrying while another connection holds the lock.

    Changing the journal mode of a new database can fail at once with "database is locked"
    when several processes open it together: SQLite does not run the busy handler for it.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """Run the block in one transaction: committed on success, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the ``PRAGMA user_version`` of the database."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Bring the schema up to ``target`` (default: the latest); return the version reached.

    Raises:
        RuntimeError: the database is newer than this code knows; upgrade legacy_app.
    """
    migrations = load_migrations()
    target = len(migrations) if target is None else target
    if not 0 <= target <= len(migrations):
        raise ValueError(f"target version must be in 0..{len(migrations)}, got {target}")
    with transaction(conn):
        current = schema_version(conn)
        if current > len(migrations):
            raise RuntimeError(f"the database schema is version {current} but this legacy_app "
                               f"only knows up to {len(migrations)}; upgrade legacy_app")
        for migration in migrations[current:target]:
            logger.info("upgrading the database schema to version %d (%s)",
                        migration.version, migration.name)
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version}")
    return max(current, target)


def open_database(path: str | Path) -> sqlite3.Connection:
    """Connect to ``path`` and upgrade its schema; the usual way to open the database."""
    conn = connect(path)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def get_db() -> sqlite3.Connection:
    """The current request's connection, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    conn: sqlite3.Connection = g.db
    return conn


def close_db(exc: BaseException | None = None) -> None:
    """Close the request's connection, if one was opened (a Flask teardown function)."""
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    """Create or upgrade the database of ``app`` and register the per-request teardown."""
    path = app.config["DATABASE"]
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    open_database(path).close()
    app.teardown_appcontext(close_db)
