"""The static half: routes found from source, the IO each reaches, per-module counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from loopbridge.report import build_report

from .conftest import CORPUS, REPO, SHOP, report_json


def _expected() -> dict:
    return json.loads((CORPUS / "shop_expected.json").read_text(encoding="utf-8"))


def test_corpus_routes_and_counts_match_the_expected_data() -> None:
    report = build_report([SHOP])
    found = {r.endpoint: {"rule": r.rule, "methods": r.methods, "view_kind": r.view_kind,
                          "counts": {k: v for k, v in r.counts.items() if v},
                          "by_kind": r.by_kind} for r in report.routes}
    expected = _expected()
    assert found == expected["routes"]
    assert report.headline == expected["headline"]


def test_every_route_form_is_found() -> None:
    rules = {r.endpoint: r.rule for r in build_report([SHOP]).routes}
    assert rules["health"] == "/health"                          # @app.route in a factory
    assert rules["orders.list_orders"] == "/orders/"             # blueprint + register prefix
    assert rules["orders.admin.reindex"] == "/orders/admin/reindex"  # nested blueprint
    assert rules["item"] == "/items/<int:item_id>"               # MethodView.as_view
    assert rules["legacy"] == "/legacy"                          # add_url_rule(rule, ep, fn)


def test_helpers_across_modules_are_followed_and_the_chain_is_kept() -> None:
    route = {r.endpoint: r for r in build_report([SHOP]).routes}["orders.list_orders"]
    (site, status), = route.sites.items()
    assert site == f"{SHOP}/helpers.py:10:12" and status == "blocking"
    assert route.chains[site] == ["list_orders", "fetch_rates"]


def test_where_each_call_runs() -> None:
    routes = {r.endpoint: r for r in build_report([SHOP]).routes}
    assert set(routes["orders.show"].sites.values()) == {"offloaded", "migrated"}  # to_async + await
    assert list(routes["orders.bad"].sites.values()) == ["stalls_loop"]   # requests in async def
    assert list(routes["orders.track"].sites.values()) == ["migrated"]    # Session + adapter
    assert list(routes["orders.stock"].sites.values()) == ["migrated"]    # bridge.http.Session
    # a dispatch table: both notifiers are reachable, one blocks and one is bridged
    assert sorted(routes["orders.notify"].sites.values()) == ["blocking", "migrated"]


def test_modules_count_their_own_sites() -> None:
    modules = {m["path"]: m for m in report_json(SHOP)["modules"]}
    helpers = modules[f"{SHOP}/helpers.py"]
    assert helpers["counts"] == {"migrated": 3, "offloaded": 2, "blocking": 2, "stalls_loop": 0}
    assert helpers["by_kind"]["db"] == {"migrated": 0, "offloaded": 2, "blocking": 0,
                                        "stalls_loop": 0}
    assert modules[f"{SHOP}/orders.py"]["counts"]["stalls_loop"] == 1


def test_a_route_left_without_blocking_io_is_clean(tmp_path: Path) -> None:
    app = tmp_path / "tiny"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "views.py").write_text(textwrap.dedent("""
        import requests
        from flask import Flask
        import bridge.http

        app = Flask(__name__)

        @app.get("/old")
        def old():
            return requests.get("https://a.example/").text

        @app.get("/new")
        def new():
            return bridge.http.get("https://a.example/").text
    """))
    report = build_report([str(app)])
    clean = {r.endpoint: r.clean for r in report.routes}
    assert clean == {"old": False, "new": True}
    assert report.headline["share_on_loop"] == 0.5
    assert report.headline["share_routes_clean"] == 0.5


def test_the_command_never_imports_the_runtime(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code = textwrap.dedent(f"""
        import sys
        from loopbridge.cli import main
        try:
            main(["report", {SHOP!r}, "--format", "json", "-o", {str(out)!r}])
        except SystemExit as exc:
            assert not exc.code, exc.code
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("bridge", "async_core", "flask", "aiohttp",
                                              "asgiref", "requests", "legacy_app"))
        print(",".join(heavy))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60, check=False,
                            env=dict(os.environ, PYTHONDEVMODE="0"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    assert json.loads(out.read_text())["headline"]["routes"] == 10


def test_a_generated_app_is_counted_exactly(tmp_path: Path, monkeypatch) -> None:
    from .synth import write_app

    write_app(tmp_path, 20)
    monkeypatch.chdir(tmp_path)
    report = build_report(["synthapp"])
    head = report.headline
    # per module: 5 routes; requests, sqlite3 x2, time.sleep, open + read blocking;
    # bridge.http.get and await bridge.http.async_get on the loop
    assert (head["routes"], head["io_sites"], head["io_sites_on_loop"]) == (100, 160, 40)
    assert head["routes_clean"] == 40
    a_route = {r.endpoint: r for r in report.routes}["m5.route_a_5"]
    assert a_route.rule == "/m5/a"
    assert sorted(a_route.sites.values()) == ["blocking"] * 3   # own requests + m4's sqlite3 x2


def test_calls_in_a_for_loop_rank_first_and_retry_loops_do_not_count(tmp_path: Path) -> None:
    app = tmp_path / "loopy"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "views.py").write_text(textwrap.dedent("""
        import time
        import requests
        from flask import Flask

        app = Flask(__name__)

        def check_all(urls):
            for url in urls:
                try:
                    requests.get(url, timeout=5)
                except requests.RequestException:
                    time.sleep(1)

        def one(url):
            while True:
                try:
                    return requests.get(url, timeout=5)
                except requests.RequestException:
                    time.sleep(0.1)

        @app.post("/all")
        def all_sites():
            check_all(["https://a.example/"])
            return ""

        @app.post("/one")
        def one_site():
            one("https://a.example/")
            return ""
    """))
    report = build_report([str(app)])
    loops = {(s.function, s.call): s.in_loop for s in report.sites}
    assert loops == {("check_all", "requests.get"): True, ("check_all", "time.sleep"): False,
                     ("one", "requests.get"): False, ("one", "time.sleep"): False}
    first = report.steps[0]
    assert (first.function, first.call) == ("check_all", "requests.get")
    assert "bridge.http.map" in first.change and "in a for loop" in first.basis


def test_static_half_stays_within_twice_the_lint_time(tmp_path: Path, monkeypatch) -> None:
    import time

    from loopbridge.lint import LintConfig, lint_paths

    from .synth import write_app

    lines = write_app(tmp_path, 40)
    monkeypatch.chdir(tmp_path)
    config = LintConfig(root=str(tmp_path))
    lint_times, report_times = [], []
    for _ in range(3):   # interleaved, best of three: machine load hits both alike
        started = time.perf_counter()
        lint_paths(["synthapp"], config)
        lint_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = build_report(["synthapp"], config)
        report_times.append(time.perf_counter() - started)
    assert report.lines == lines > 10_000
    assert min(report_times) <= 2 * min(lint_times) + 0.1, (report_times, lint_times)


def test_class_views_and_routes_on_a_passed_app(tmp_path: Path) -> None:
    app = tmp_path / "cbv"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "views.py").write_text(textwrap.dedent("""
        import time
        from flask.views import MethodView, View

        class Report(View):
            def dispatch_request(self):
                time.sleep(1)
                return ""

        class Things(MethodView):
            def post(self):
                return ""

        def register(app):
            report_view = Report.as_view("report")
            app.add_url_rule("/report", view_func=report_view)
            app.add_url_rule("/things", view_func=Things.as_view("things"))

            @app.get("/ping")
            def ping():
                return "pong"
    """))
    routes = {r.endpoint: r for r in build_report([str(app)]).routes}
    assert sorted(routes) == ["ping", "report", "things"]
    assert routes["report"].view.endswith("Report.dispatch_request")
    assert list(routes["report"].sites.values()) == ["blocking"]
    assert routes["things"].methods == ["POST"] and routes["ping"].rule == "/ping"


def test_another_frameworks_router_is_not_taken_for_flask(tmp_path: Path) -> None:
    (tmp_path / "api.py").write_text(textwrap.dedent("""
        from fastapi import APIRouter
        from flask import Flask

        router = APIRouter()
        app = Flask(__name__)

        @router.get("/fast")
        def fast():
            return {}

        @app.get("/flask")
        def flask_view():
            return ""
    """))
    assert [r.rule for r in build_report([str(tmp_path)]).routes] == ["/flask"]


def test_request_hooks_run_around_their_routes() -> None:
    routes = {r.endpoint: r for r in build_report([SHOP]).routes}
    admin = routes["orders.admin.reindex"]
    assert admin.hooks == ["shop.admin.only_admins", "shop.app.stamp"]
    hooked = [site for site, chain in admin.chains.items() if chain == ["only_admins"]]
    assert len(hooked) == 2 and all(admin.sites[s] == "blocking" for s in hooked)
    # the blueprint's before_request runs only around its own routes; the app's around all
    assert routes["orders.list_orders"].hooks == ["shop.app.stamp"]
    assert all("shop.app.stamp" in r.hooks for r in routes.values())


def test_only_the_session_that_mounts_the_adapter_counts_as_migrated(tmp_path: Path) -> None:
    (tmp_path / "clients.py").write_text(textwrap.dedent("""
        import requests
        from flask import Flask
        from bridge.http import LoopBridgeAdapter

        app = Flask(__name__)
        LEGACY = requests.Session()
        BRIDGED = requests.Session()
        adapter = LoopBridgeAdapter()
        BRIDGED.mount("https://", adapter)

        @app.get("/legacy")
        def legacy():
            return LEGACY.get("https://a.example/").text

        @app.get("/bridged")
        def bridged():
            return BRIDGED.get("https://a.example/").text

        @app.get("/local")
        def local():
            session = requests.Session()
            session.mount("http://", LoopBridgeAdapter())
            return session.get("http://a.example/").text
    """))
    statuses = {r.endpoint: sorted(r.sites.values()) for r in build_report([str(tmp_path)]).routes}
    assert statuses == {"legacy": ["blocking"], "bridged": ["migrated"], "local": ["migrated"]}
