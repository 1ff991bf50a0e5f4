"""The asgiref internals the bridge relies on (``bridge._asgiref_compat.ASGIREF_INTERNALS``).

asgiref has no public way to aim its thread-sensitive machinery at a loop running in another
thread. Each private name the bridge uses is listed, with its release ranges, in
``ASGIREF_INTERNALS``; every entry has a contract test here, run against whatever asgiref is
installed (CI runs the suite on the lowest declared release and on the newest). A failure names
the internal that changed; the fix belongs in ``bridge/_asgiref_compat.py``.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from asgiref import local as asgiref_local
from asgiref.sync import AsyncToSync, SyncToAsync, async_to_sync, sync_to_async

from bridge import _asgiref_compat as compat
from bridge import run, to_async
from bridge._calls import ASGIREF_INTERNALS

pytestmark = pytest.mark.usefixtures("fresh_loop")

ROOT = Path(__file__).resolve().parents[2]

#: asgiref releases -> how a Local keeps its value in a context (the compat module's docstring)
_LAYOUTS = (
    ((3, 8, 0), (3, 9, 0), "dict"),
    ((3, 9, 0), (3, 9, 1), "var-per-key"),
    ((3, 9, 1), (3, 12, 0), "dict"),
    ((3, 12, 0), (99,), "thread-tagged"),
)


def _version() -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", compat.ASGIREF_VERSION)[:3])


def test_the_installed_release_has_the_layout_its_range_documents() -> None:
    expected = [layout for low, high, layout in _LAYOUTS if low <= _version() < high]
    assert expected == [compat.LOCAL_LAYOUT], f"asgiref {compat.ASGIREF_VERSION}: detected {compat.LOCAL_LAYOUT!r}"


# -- one contract per listed internal ----------------------------------------------------------
def _executors_is_the_local_sync_to_async_submits_to() -> None:
    ran_in: list[str] = []

    class Recorder:
        def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
            ran_in.append("recorder")
            fut: Future[Any] = Future()
            fut.set_result(fn(*args, **kwargs))
            return fut

    async def main() -> int:
        AsyncToSync.executors.current = Recorder()
        return await sync_to_async(threading.get_ident)()

    assert compat.EXECUTORS is AsyncToSync.executors
    assert isinstance(compat.EXECUTORS, asgiref_local.Local), "AsyncToSync.executors is no longer an asgiref Local"
    assert asyncio.run(main()) == threading.get_ident()
    assert ran_in == ["recorder"], "SyncToAsync(thread_sensitive=True) no longer submits to AsyncToSync.executors.current"


def _executors_var_sets_current_in_one_step() -> None:
    marker = object()

    def inside() -> Any:
        compat.EXECUTORS_VAR.set(compat.Storage(threading.get_ident(), {"current": marker}))
        return compat.EXECUTORS.current

    assert contextvars.Context().run(inside) is marker, "EXECUTORS_VAR no longer backs AsyncToSync.executors"
    assert getattr(compat.EXECUTORS, "current", None) is not marker  # only that context saw it


def _storage_is_exactly_what_must_be_rehomed() -> None:
    probe = asgiref_local.Local()
    holder: list[Any] = []

    def asgiref_writes() -> None:  # what asgiref itself stores in a context for a Local
        probe.value = "v"
        holder.extend(value for _, value in contextvars.copy_context().items())

    contextvars.Context().run(asgiref_writes)
    assert holder, "a Local no longer keeps its value in a ContextVar"
    tagged = [type(value) is compat.Storage for value in holder]
    assert all(tagged) if compat.LOCAL_LAYOUT == "thread-tagged" else not any(tagged)

    # data tagged with another thread: visible here once re-homed (hidden before, where tagged)
    seen: dict[str, Any] = {}

    def elsewhere() -> None:
        compat.EXECUTORS_VAR.set(compat.Storage(-1, {"current": "x"}))
        seen["before"] = getattr(compat.EXECUTORS, "current", None)
        value = compat.EXECUTORS_VAR.get()
        compat.EXECUTORS_VAR.set(compat.rehome(value) if type(value) is compat.Storage else value)
        seen["after"] = compat.EXECUTORS.current

    contextvars.Context().run(elsewhere)
    assert seen["after"] == "x"
    assert seen["before"] == (None if compat.LOCAL_LAYOUT == "thread-tagged" else "x")


def _worker_threads_point_async_to_sync_back_at_the_calling_loop() -> None:
    """A sync function run by to_async that calls asgiref's async_to_sync reaches our loop."""

    async def where() -> str:
        return threading.current_thread().name

    @to_async
    def legacy_sync_code() -> str:
        assert SyncToAsync.threadlocal.main_event_loop is not None
        return async_to_sync(where)()

    async def coro() -> str:
        return await legacy_sync_code()

    assert run(coro()) == "loopbridge-loop"


_CONTRACTS: dict[str, Callable[[], None]] = {
    "asgiref.sync.AsyncToSync.executors": _executors_is_the_local_sync_to_async_submits_to,
    "asgiref.local.Local._storage._data": _executors_var_sets_current_in_one_step,
    "asgiref.local._Storage / asgiref.local._rehome": _storage_is_exactly_what_must_be_rehomed,
    "asgiref.sync.SyncToAsync.threadlocal.main_event_loop (+ main_event_loop_pid)": (
        _worker_threads_point_async_to_sync_back_at_the_calling_loop
    ),
}


def test_every_listed_internal_has_a_contract_and_release_ranges() -> None:
    assert ASGIREF_INTERNALS is compat.ASGIREF_INTERNALS
    assert sorted(item.name for item in ASGIREF_INTERNALS) == sorted(_CONTRACTS)
    for item in ASGIREF_INTERNALS:
        assert item.releases and all(span.startswith("3.") for span, _ in item.releases), item
        assert item.name in str(item)


@pytest.mark.parametrize("name", sorted(_CONTRACTS))
def test_internal_contract(name: str) -> None:
    _CONTRACTS[name]()


# -- what the internals give the bridge, end to end ---------------------------------------------
def test_a_local_crosses_to_the_coroutine_and_its_changes_come_back() -> None:
    local = asgiref_local.Local()
    local.user = "alice"

    async def change() -> str:
        seen = str(local.user)
        local.user = "bob"
        return seen

    assert run(change()) == "alice"
    assert local.user == "bob"


def test_thread_sensitive_work_sees_the_callers_local_in_the_callers_thread() -> None:
    local = asgiref_local.Local()
    local.db = "conn-of-this-thread"

    @to_async
    def legacy() -> tuple[int, str]:
        return threading.get_ident(), str(local.db)

    async def coro() -> tuple[int, str]:
        return await legacy()

    assert run(coro()) == (threading.get_ident(), "conn-of-this-thread")


def test_the_executor_lever_does_not_leak_into_the_callers_context() -> None:
    async def noop() -> None:
        await asyncio.sleep(0)

    before = getattr(AsyncToSync.executors, "current", None)
    run(noop())
    assert getattr(AsyncToSync.executors, "current", None) is before


# -- a release the bridge cannot work with fails at import, saying so --------------------------
def _import_bridge_with(tmp_path: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``import bridge`` with a stand-in asgiref package first on the path (no network here)."""
    for rel, text in files.items():
        target = tmp_path / "fake" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    code = "import bridge"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={"PYTHONPATH": f"{tmp_path / 'fake'}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )


def test_an_asgiref_older_than_the_floor_is_refused_with_the_fix(tmp_path: Path) -> None:
    proc = _import_bridge_with(tmp_path, {
        "asgiref/__init__.py": '__version__ = "3.7.2"\n',
        "asgiref/local.py": "class Local: pass\n",
        "asgiref/sync.py": "class AsyncToSync: pass\nclass SyncToAsync: pass\nasync_to_sync = sync_to_async = None\n",
    })
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: loopbridge does not support asgiref 3.7.2: it is older than 3.8.0"), proc.stderr
    assert "pip install -U asgiref" in last


def test_an_asgiref_with_an_unknown_layout_names_the_internal(tmp_path: Path) -> None:
    proc = _import_bridge_with(tmp_path, {
        "asgiref/__init__.py": '__version__ = "9.0.0"\n',
        "asgiref/local.py": "class Local:\n    pass\n",
        "asgiref/sync.py": """\
            import threading
            from asgiref.local import Local
            class AsyncToSync:
                executors = Local()
            class SyncToAsync:
                threadlocal = threading.local()
            async_to_sync = sync_to_async = None
            """,
    })
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "does not support asgiref 9.0.0" in last and "Local._storage._data" in last, proc.stderr
