"""Storage: WAL mode, the self-upgrading schema, and whole rows whatever happens."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from legacy_app import storage
from legacy_app.app import instance_secret
from legacy_app.db import (
    SCHEMA_VERSION,
    connect,
    migrate,
    open_database,
    schema_version,
    split_statements,
    transaction,
)
from legacy_app.storage import CheckResult

# The monitor's tests run in loopbridge strict mode: a stalled loop fails the test.
pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}


def test_new_database_is_at_the_latest_version_in_wal_mode(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "m.sqlite3")
    try:
        assert schema_version(conn) == SCHEMA_VERSION == 3
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert {"runs", "sites", "checks"} <= {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def test_version_1_database_is_upgraded_with_its_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = connect(path)
    assert migrate(old, target=1) == 1
    old.execute("INSERT INTO sites (url) VALUES ('https://example.com/')")
    old.execute("INSERT INTO checks (site_id, status_code, latency_ms, ok) VALUES (1, 200, 12.5, 1)")
    assert "name" not in _columns(old, "sites") and "run_id" not in _columns(old, "checks")
    old.close()

    conn = open_database(path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION
        assert "name" in _columns(conn, "sites") and "run_id" in _columns(conn, "checks")
        [status] = storage.site_statuses(conn)
        assert status["url"] == "https://example.com/" and status["uptime_pct"] == 100.0
        assert storage.start_run(conn, "legacy", 1) == 1
    finally:
        conn.close()


def test_failed_upgrade_leaves_the_old_schema_untouched(tmp_path: Path) -> None:
    path = tmp_path / "clash.sqlite3"
    old = connect(path)
    migrate(old, target=1)
    old.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY)")  # clashes with migration 002
    old.execute("INSERT INTO sites (url) VALUES ('https://example.com/')")
    old.close()
    with pytest.raises(sqlite3.OperationalError, match="runs"):
        open_database(path)
    conn = connect(path)
    try:
        assert schema_version(conn) == 1
        assert "run_id" not in _columns(conn, "checks")
        assert conn.execute("SELECT url FROM sites").fetchone()[0] == "https://example.com/"
    finally:
        conn.close()


def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    conn = connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(RuntimeError, match="upgrade legacy_app"):
        open_database(path)


def test_processes_opening_at_once_migrate_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "race.sqlite3"
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            open_database(path).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    conn = connect(path)
    assert schema_version(conn) == SCHEMA_VERSION
    conn.close()


def test_split_statements_skips_comments_and_rejects_a_cut_statement() -> None:
    script = "-- a comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nCREATE TABLE b (y);\n"
    assert split_statements(script) == ("CREATE TABLE a (x TEXT DEFAULT ';');", "CREATE TABLE b (y);")
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE c (z")


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "t.sqlite3")
    try:
        with pytest.raises(ZeroDivisionError), transaction(conn):
            conn.execute("INSERT INTO sites (url) VALUES ('https://a.example/')")
            raise ZeroDivisionError("boom")
        assert storage.list_sites(conn) == []
    finally:
        conn.close()


def test_results_of_a_deleted_site_are_dropped_and_counters_stay_true(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "r.sqlite3")
    try:
        keep = storage.add_site(conn, "https://a.example/", "a")
        gone = storage.add_site(conn, "https://b.example/", "b")
        run = storage.start_run(conn, "bridge", 2)
        storage.delete_site(conn, gone.id)
        stored = storage.record_results(conn, run, [CheckResult(keep.id, True, 200, 3.0),
                                                    CheckResult(gone.id, False, None, None, "x")])
        assert stored == 1
        row = conn.execute("SELECT recorded, ok_count FROM runs WHERE id = ?", (run,)).fetchone()
        assert tuple(row) == (1, 1)
        with pytest.raises(storage.DuplicateSite, match="already monitored"):
            storage.add_site(conn, "https://a.example/")
        with pytest.raises(ValueError, match="checker must be one of"):
            storage.start_run(conn, "threads", 1)
    finally:
        conn.close()


def test_secret_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    key = instance_secret(tmp_path / "inst")
    assert len(key) == 64 and instance_secret(tmp_path / "inst") == key
    mode = stat.S_IMODE((tmp_path / "inst" / "secret_key").stat().st_mode)
    assert mode == 0o600
