"""The request sampler sorts real stacks: a thread really sleeping, querying, waiting, spinning."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge._sampler import RequestSampler, classify_stack

pytestmark = pytest.mark.loopbridge_nostrict

SLOW_SQL = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
            "SELECT count(*) FROM c")


class _Holder:
    lock = threading.Lock()


def sleeper(stop: threading.Event) -> None:
    while not stop.is_set():
        time.sleep(0.05)  # SLEEP


def querier(stop: threading.Event) -> None:
    connection = sqlite3.connect(":memory:")
    while not stop.is_set():
        statement, parameters = SLOW_SQL, ()
        connection.execute(statement, parameters).fetchone()  # QUERY
    connection.close()


def waiter(stop: threading.Event) -> None:
    while not stop.is_set():
        if _Holder.lock.acquire(timeout=0.05):  # LOCK
            _Holder.lock.release()


def spinner(stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1


@pytest.mark.parametrize(("target", "kind", "primitive"), [
    (sleeper, "sleep", "sleep"),
    (querier, "db", "execute"),
    (waiter, "wait", "acquire"),
])
def test_a_blocked_thread_is_laid_at_its_own_line(target: Callable[[threading.Event], None], kind: str,
                                                  primitive: str) -> None:
    stop = threading.Event()
    _Holder.lock.acquire()
    thread = threading.Thread(target=target, args=(stop,), name=f"sampled-{target.__name__}")
    thread.start()
    try:
        time.sleep(0.1)
        seen = []
        for _ in range(10):  # bounded
            seen.append(classify_stack(sys._current_frames()[thread.ident]))  # type: ignore[index]
            time.sleep(0.01)
    finally:
        stop.set()
        _Holder.lock.release()
        thread.join(10)
    blocked = [s for s in seen if s[0] == "blocked"]
    assert len(blocked) >= 7, seen
    state, place, got_kind, got_primitive, _ = blocked[0]
    assert (got_kind, got_primitive) == (kind, primitive)
    assert place is not None and place[0] == __file__ and place[2] == target.__name__


def test_a_thread_running_code_is_not_blocked() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=spinner, args=(stop,), name="sampled-spinner")
    thread.start()
    try:
        time.sleep(0.05)
        states = [classify_stack(sys._current_frames()[thread.ident])[0] for _ in range(10)]  # type: ignore[index]
    finally:
        stop.set()
        thread.join(10)
    assert states.count("running") >= 9, states


def test_the_sampler_counts_only_threads_serving_requests_and_stops() -> None:
    sampler = RequestSampler(interval_ms=5)
    stop = threading.Event()

    def request() -> None:
        sampler.enter("books")
        try:
            sleeper(stop)
        finally:
            sampler.leave()

    thread = threading.Thread(target=request, name="sampled-request")
    thread.start()
    try:
        deadline = time.monotonic() + 5  # bounded: a busy machine may give the sampler little CPU
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if sampler.as_dict()["endpoints"].get("books", {}).get("samples", 0) >= 10:
                break
    finally:
        stop.set()
        thread.join(10)
        sampling = sampler._thread
        sampler.stop()
    assert sampling is not None and sampling.name == "loopbridge-sampler" and not sampling.is_alive()
    row = sampler.as_dict()["endpoints"]["books"]
    assert row["samples"] >= 10 and row["blocked"] >= row["samples"] * 0.7, row
    assert sampler.as_dict()["cpu_ms"] > 0   # what the sampling thread cost, served for the bench
    assert row["where"][0]["function"] == "sleeper" and row["where"][0]["kind"] == "sleep"
    assert row["where"][0]["via"][0]["function"].endswith("request")


def test_bad_intervals_are_refused_with_the_range() -> None:
    for bad in (0, -1, 20_000, True, "20"):
        with pytest.raises(ValueError, match="interval_ms must be a number of ms in"):
            RequestSampler(bad)  # type: ignore[arg-type]


def test_a_query_run_while_a_jinja_template_renders_is_laid_at_the_template_s_own_line(tmp_path: Path) -> None:
    import jinja2

    (tmp_path / "books.html").write_text("<ul>\n{% for b in books %}\n<li>{{ b.authors() }}</li>\n{% endfor %}\n</ul>\n")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(tmp_path)))
    seen: list[Any] = []

    class Book:
        def authors(self) -> str:  # a lazily loaded relationship: the query runs as the page renders
            seen.append(classify_stack(sys._getframe(1)))
            return "someone"

    env.get_template("books.html").render(books=[Book()])
    state, place, _, _, _ = seen[0]
    assert place is not None and place[0] == str(tmp_path / "books.html")
    assert place[1] == 3, place   # the template's line, not the generated module's


def _calls(db: Any, sql: str, row: Any) -> None:
    db.commit()
    db.execute(sql, (row.a, row.b))
    time.sleep(0.0)


def test_the_callable_of_a_call_is_found_past_its_arguments() -> None:
    import dis

    from bridge._sampler import _callee

    code = _calls.__code__
    calls = [ins.offset for ins in dis.get_instructions(code) if ins.opname == "CALL"]
    assert [_callee(code, offset) for offset in calls] == ["commit", "execute", "sleep"]
