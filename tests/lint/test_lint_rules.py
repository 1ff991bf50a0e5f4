"""Each rule point of the issue, on small snippets and small trees."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from loopbridge.lint import Finding, LintConfig, _engine, lint_paths, lint_source

Lint = Callable[[str], list[Finding]]


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


# -- LB1xx: direct calls and names ---------------------------------------------------------

@pytest.mark.parametrize(("imports", "call", "code"), [
    ("import requests", "requests.get(u)", "LB101"),
    ("import requests as r", "r.Session().post(u)", "LB101"),
    ("from requests import get as fetch", "fetch(u)", "LB101"),
    ("import urllib.request", "urllib.request.urlopen(u)", "LB101"),
    ("import httpx", "httpx.Client().get(u)", "LB101"),
    ("from bridge import http", "http.get(u)", "LB101"),
    ("import bridge.http", "bridge.http.map([u])", "LB101"),
    ("from time import sleep", "sleep(1)", "LB102"),
    ("import os", "os.system('ls')", "LB103"),
    ("import subprocess as sp", "sp.check_call(['ls'])", "LB103"),
    ("import pathlib", "pathlib.Path(u).write_text('x')", "LB104"),
    ("import shutil", "shutil.copytree(u, u)", "LB104"),
    ("import os.path", "os.path.isdir(u)", "LB104"),
    ("import sqlite3", "sqlite3.connect(u).cursor().fetchone()", "LB105"),
    ("import socket", "socket.socket().connect((u, 1))", "LB106"),
    ("", "input()", "LB107"),
    ("import queue", "queue.Queue().put(1)", "LB108"),
])
def test_blocking_call_in_coroutine_is_flagged_under_every_spelling(
        lint: Lint, imports: str, call: str, code: str) -> None:
    found = lint(f"{imports}\nasync def f(u):\n    {call}\n")
    assert code in codes(found)


def test_import_inside_the_coroutine_is_resolved(lint: Lint) -> None:
    found = lint("""
        async def f():
            from time import sleep as nap
            nap(1)
    """)
    assert codes(found) == ["LB102"]


def test_message_names_the_call_the_reason_and_the_fix(lint: Lint) -> None:
    (found,) = lint("import time\nasync def tick():\n    time.sleep(1)\n")
    assert found.line == 3 and found.col == 5
    assert "time.sleep()" in found.message and "asyncio.sleep" in found.message
    assert found.render().startswith("snippet.py:3:5: LB102 ")


def test_self_attribute_typed_in_init_is_followed_into_async_method(lint: Lint) -> None:
    found = lint("""
        import requests
        class C:
            def __init__(self):
                self.http = requests.Session()
            async def go(self):
                return self.http.get("u")
    """)
    assert codes(found) == ["LB101"]


def test_class_level_annotation_types_an_attribute(lint: Lint) -> None:
    found = lint("""
        import sqlite3
        class Repo:
            conn: sqlite3.Connection
            async def save(self):
                self.conn.commit()
    """)
    assert codes(found) == ["LB105"]


def test_inherited_attribute_type_is_found_through_base_class(lint: Lint) -> None:
    found = lint("""
        import redis
        class Base:
            def __init__(self):
                self.cache = redis.Redis()
        class Child(Base):
            async def hit(self):
                self.cache.incr("n")
                self.cache.pipeline()
    """)
    assert codes(found) == ["LB105"]


def test_non_blocking_variants_are_not_flagged(lint: Lint) -> None:
    found = lint("""
        import queue, threading
        async def f(q: queue.Queue, lock: threading.Lock):
            q.get(block=False)
            q.get(False)
            q.put_nowait(1)
            lock.acquire(timeout=0)
    """)
    assert found == []


def test_mail_client_constructed_without_host_does_not_connect(lint: Lint) -> None:
    found = lint("import smtplib\nasync def f():\n    smtplib.SMTP()\n    smtplib.SMTP('h')\n")
    assert codes(found) == ["LB106"]


# -- not flagged ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "await asyncio.to_thread(requests.get, u)",
    "await asyncio.to_thread(lambda: requests.get(u))",
    "await asyncio.get_running_loop().run_in_executor(None, lambda: time.sleep(1))",
    "threading.Thread(target=lambda: time.sleep(1)).start()",
    "requests = {}\n    requests.get(u)",
    "os.path.join(u, u)",
    "await session.get(u)",
    "request.session.get('user')",
    "callback = lambda: time.sleep(1)",
])
def test_off_loop_and_look_alike_code_is_not_flagged(lint: Lint, body: str) -> None:
    source = ("import asyncio, os, threading, time\nimport requests\nfrom flask import request\n"
              f"async def f(u, session):\n    {body}\n")
    assert lint(source) == []


def test_eager_lambda_runs_on_the_loop_and_is_flagged(lint: Lint) -> None:
    found = lint("import requests\nasync def f(urls):\n"
                 "    return list(map(lambda u: requests.get(u), urls))\n")
    assert codes(found) == ["LB101"]


def test_type_checking_block_is_ignored(lint: Lint) -> None:
    found = lint("""
        import typing, requests
        async def f():
            if typing.TYPE_CHECKING:
                requests.get("u")
    """)
    assert found == []


def test_functions_decorated_to_run_off_the_loop_are_not_flagged(lint: Lint) -> None:
    found = lint("""
        import requests, bridge
        from asgiref.sync import sync_to_async
        @bridge.to_async
        def a(u):
            return requests.get(u)
        @sync_to_async(thread_sensitive=False)
        def b(u):
            return requests.get(u)
        async def main(u):
            await a(u)
            await b(u)
    """)
    assert found == []


# -- LB2xx: transitive ---------------------------------------------------------------------

def test_chain_across_modules_is_reported_with_every_hop(lint_tree) -> None:
    found = lint_tree({
        "monitor/__init__.py": "",
        "monitor/net.py": "import requests\n\ndef fetch(u):\n    return requests.get(u)\n",
        "monitor/jobs.py": "from monitor.net import fetch\n\nasync def check_site(u):\n"
                           "    return fetch(u)\n",
    })
    (item,) = found
    assert item.code == "LB201" and item.path == "monitor/jobs.py" and item.line == 4
    assert "check_site() → fetch() → requests.get  (monitor/net.py:4)" in item.message
    assert [link.path for link in item.chain] == ["monitor/jobs.py", "monitor/net.py"]


def test_chain_through_relative_import_and_reexport(lint_tree) -> None:
    found = lint_tree({
        "app/__init__.py": "from ._db import load\n",
        "app/_db.py": "import sqlite3\n\ndef load():\n    return sqlite3.connect('x')\n",
        "app/views.py": "from . import load\n\nasync def page():\n    return load()\n",
    })
    assert codes(found) == ["LB201"]
    assert "sqlite3.connect" in found[0].message


def test_helper_module_not_on_the_command_line_is_followed(lint_tree, tmp_path: Path) -> None:
    lint_tree({
        "pkg/__init__.py": "",
        "pkg/helpers.py": "import time\n\ndef wait():\n    time.sleep(1)\n",
        "pkg/main.py": "from pkg.helpers import wait\n\nasync def go():\n    wait()\n",
    })
    result = lint_paths([str(tmp_path / "pkg" / "main.py")], LintConfig(root=str(tmp_path)))
    assert codes(result.findings) == ["LB201"]
    assert result.followed >= 1


def test_recursive_helpers_terminate_and_report_once(lint: Lint) -> None:
    found = lint("""
        import time
        def a(n):
            return b(n)
        def b(n):
            if n:
                return a(n - 1)
            time.sleep(1)
        def c(n):
            return c(n)
        async def go():
            a(3)
            c(1)
    """)
    assert codes(found) == ["LB201"]
    assert "go() → a() → b() → time.sleep" in found[0].message


def test_self_method_chain_and_blocking_constructor(lint: Lint) -> None:
    found = lint("""
        import sqlite3
        class Store:
            def __init__(self, path):
                self.db = sqlite3.connect(path)
        class Svc:
            def _rows(self):
                return self._raw()
            def _raw(self):
                return open("f").read()
            async def handle(self):
                Store("x")
                return self._rows()
    """)
    assert codes(found) == ["LB201", "LB201"]
    assert "Svc.handle() → Svc._rows() → Svc._raw() → open" in found[1].message


def test_helper_that_only_offloads_does_not_block(lint: Lint) -> None:
    found = lint("""
        import asyncio, requests
        def schedule(u):
            return asyncio.to_thread(requests.get, u)
        async def go(u):
            await schedule(u)
            schedule(u)
    """)
    # nothing blocks; the bare call drops the coroutine the helper returns
    assert codes(found) == ["LB308"]


def test_helper_taking_a_lock_briefly_is_not_a_transitive_finding(lint: Lint) -> None:
    found = lint("""
        import threading
        LOCK = threading.Lock()
        def bump(d):
            with LOCK:
                d["n"] = d.get("n", 0) + 1
        async def go(d):
            bump(d)
    """)
    assert found == []


# -- LB3xx ---------------------------------------------------------------------------------

def test_coroutine_captured_by_a_nested_function_is_not_dropped(lint: Lint) -> None:
    found = lint("""
        import asyncio
        async def job():
            return 1
        def main():
            pending = job()
            async def runner():
                return await pending
            return asyncio.run(runner())
    """)
    assert found == []


def test_coroutine_handed_to_an_unknown_call_is_not_flagged(lint: Lint) -> None:
    found = lint("""
        async def job():
            return 1
        def main(portal):
            portal.call(job())
            work = job()
            portal.start(work)
    """)
    assert found == []


def test_async_context_manager_and_generator_are_not_coroutines(lint: Lint) -> None:
    found = lint("""
        import contextlib
        @contextlib.asynccontextmanager
        async def opened():
            yield 1
        async def ticks():
            yield 1
        async def go():
            async with opened():
                pass
            opened()
            ticks()
    """)
    assert found == []


def test_logger_heuristic_flags_formatted_coroutine(lint: Lint) -> None:
    found = lint("""
        async def ping():
            return True
        async def go(app):
            app.logger.warning("ping %s", ping())
    """)
    assert codes(found) == ["LB304"]


# -- LB9xx ---------------------------------------------------------------------------------

def test_unreadable_file_is_reported_not_raised(tmp_path: Path) -> None:
    target = tmp_path / "gone.py"
    target.mkdir()
    (tmp_path / "ok.py").write_text("x = 1\n")
    result = _engine._run([str(target), str(tmp_path / "ok.py")], LintConfig(root=str(tmp_path)))
    assert codes(result.findings) == ["LB904"]


def test_absurdly_nested_file_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text("x = 1" + " + 1" * 100_000 + "\n")
    (tmp_path / "fine.py").write_text("import time\nasync def f():\n    time.sleep(1)\n")
    result = lint_paths([str(tmp_path)], LintConfig(root=str(tmp_path)))
    assert sorted(codes(result.findings)) == ["LB102", "LB905"]


def test_internal_error_in_one_file_is_reported_and_run_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("import time\nasync def f():\n    time.sleep(1)\n")
    real = _engine.index_module

    def flaky(tree: ast.Module, name: str, path: str, is_package: bool):  # type: ignore[no-untyped-def]
        if path.endswith("a.py"):
            raise KeyError("boom")
        return real(tree, name, path, is_package)

    monkeypatch.setattr(_engine, "index_module", flaky)
    result = lint_paths([str(tmp_path)], LintConfig(root=str(tmp_path)))
    assert sorted(codes(result.findings)) == ["LB102", "LB906"]


def test_lint_source_reports_a_syntax_error_as_a_finding() -> None:
    (found,) = lint_source("def broken(:\n", "x.py")
    assert found.code == "LB901" and found.line == 1


def test_syntax_newer_than_libcst_can_lower_is_still_one_syntax_finding(lint: Lint) -> None:
    found = lint('''
        import time
        async def f(name):
            time.sleep(1)
            return f"{"-".join(name)}"
    ''')
    # PEP 701 (3.12): read natively from 3.12 on; before, libcst reads it but cannot lower it
    expected = ["LB102"] if sys.version_info >= (3, 12) else ["LB901"]
    assert codes(found) == expected


def test_chains_stop_at_linecaches_cache_check(tmp_path: Path) -> None:
    # linting the stdlib: logging -> traceback -> linecache.checkcache -> os.stat
    (tmp_path / "linecache.py").write_text(
        "import os\n\ndef checkcache(name):\n    return os.stat(name)\n")
    (tmp_path / "app.py").write_text(
        "import linecache\nimport os\n\n"
        "def fmt(name):\n    return linecache.checkcache(name)\n\n"
        "def size(name):\n    return os.stat(name)\n\n"
        "async def handler(name):\n    fmt(name)\n    size(name)\n")
    found = lint_paths([str(tmp_path)], LintConfig(root=str(tmp_path))).findings
    assert [(Path(f.path).name, f.line, f.code) for f in found] == [("app.py", 12, "LB201")]


def test_indexing_keeps_no_reference_to_the_syntax_tree() -> None:
    # the engine pauses the garbage collector: a tree kept by a reference cycle would stay
    # alive for the whole run (about 1 KB per line of code)
    import gc

    from loopbridge.lint._index import index_module

    tree = ast.parse("def f():\n    return g()\n\nasync def h():\n    await f()\n")
    nodes = [tree.body[0], tree.body[1]]
    before = [sys.getrefcount(node) for node in nodes]
    enabled = gc.isenabled()
    gc.disable()
    try:
        module = index_module(tree, "m", "m.py", False)
        after = [sys.getrefcount(node) for node in nodes]
    finally:
        if enabled:
            gc.enable()
    assert set(module.functions) == {"m.<module>", "m.f", "m.h"}
    assert after == before


# -- the argument of a call on a call's result (a().b(arg)) ---------------------------------

@pytest.mark.parametrize("call", [
    "concurrent.futures.ThreadPoolExecutor().submit(ping())",
    "asyncio.get_running_loop().run_in_executor(None, ping())",
])
def test_an_argument_belongs_to_the_outer_call_of_a_chain(call: str) -> None:
    found = lint_source("import asyncio\nimport concurrent.futures\n\n\nasync def ping():\n"
                        f"    return 1\n\n\nasync def main():\n    {call}\n")
    assert codes(found) == ["LB307"]
    assert found[0].col == 5 + call.index("ping()") + 1 - 1


def test_broken_and_looping_symlinks_in_a_folder_are_lb904(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / "broken.py").symlink_to(tmp_path / "missing.py")
    (tmp_path / "loop_a.py").symlink_to(tmp_path / "loop_b.py")
    (tmp_path / "loop_b.py").symlink_to(tmp_path / "loop_a.py")
    (tmp_path / "alias.py").symlink_to(tmp_path / "ok.py")  # a working link is linted
    result = lint_paths([str(tmp_path)], LintConfig(root=str(tmp_path)))
    found = sorted((Path(f.path).name, f.code) for f in result.findings)
    assert found == [("broken.py", "LB904"), ("loop_a.py", "LB904"), ("loop_b.py", "LB904")]
