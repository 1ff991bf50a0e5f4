"""The bench command's parts: real (tiny) runs against its own upstream, targets, the report, the picture."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from loopbridge.bench import TARGETS, evaluate_targets
from loopbridge.bench._chart import chart_title, render_chart, scenarios
from loopbridge.bench._cli import _session, run_bench
from loopbridge.bench._report import render_tables
from loopbridge.bench.fanout import format_fanout_table, run_fanout_bench
from loopbridge.bench.flask_e2e import FlaskBenchConfig
from loopbridge.bench.loadgen import percentile
from loopbridge.bench.roundtrip import run_roundtrip_bench
from loopbridge.bench.session import adapter_available, format_session_table, requests_own_cpu, run_session_bench
from loopbridge.bench.upstream import delay_url, upstream

_RUNTIME = ("aiohttp", "flask", "asgiref", "async_core", "bridge", "legacy_app")


@pytest.mark.usefixtures("fresh_loop")
def test_roundtrip_bench_measures_every_variant_against_raw() -> None:
    result = run_roundtrip_bench(calls=40, repeat=1, callers=(1, 2))
    for callers in ("1", "2"):
        table = result["callers"][callers]
        assert set(table) == {"run", "raw", "asgiref_loop_thread", "asgiref_default", "asyncio_run", "handoff"}
        assert table["raw"]["vs_raw"] == pytest.approx(1.0)
        assert all(fig["us_per_call"] > 0 and fig["min"] <= fig["us_per_call"] <= fig["max"] for fig in table.values())


def test_roundtrip_bench_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="calls"):
        run_roundtrip_bench(calls=1)
    with pytest.raises(ValueError, match="unknown variant"):
        run_roundtrip_bench(calls=20, repeat=1, variants=["nope"])


def _fig(us: float, raw: float) -> dict:  # type: ignore[type-arg]
    return {"us_per_call": us, "min": us, "max": us, "calls_per_s": 1e6 / us, "vs_raw": us / raw}


def _sections(run_us: float, raw_us: float) -> dict:  # type: ignore[type-arg]
    table = {"run": _fig(run_us, raw_us), "raw": _fig(raw_us, raw_us), "asgiref_default": _fig(500.0, raw_us)}
    return {"roundtrip": {"callers": {"1": table}}}


def test_targets_hold_miss_or_are_reported_unmeasured() -> None:
    holds = {t["key"]: t for t in evaluate_targets(_sections(40.0, 50.0))}
    assert holds["run_vs_raw"]["status"] == "holds" and holds["run_vs_raw"]["value"] == pytest.approx(0.8)
    assert holds["run_vs_asgiref"]["status"] == "holds"
    missed = {t["key"]: t for t in evaluate_targets(_sections(60.0, 50.0))}
    assert missed["run_vs_raw"]["status"] == "missed"
    assert missed["flask_1call_rps"]["status"] == "not measured" and math.isnan(missed["flask_1call_rps"]["value"])
    assert len(holds) == len(TARGETS)


def test_report_names_every_target() -> None:
    result: dict[str, Any] = {"machine": {"python": "3.11", "cpus": 2}, "sections": _sections(40.0, 50.0)}
    result["targets"] = evaluate_targets(result["sections"])
    text = render_tables(result)
    assert all(target.label in text for target in TARGETS)
    assert "bridge.run (ours)" in text


def test_percentile_and_flask_config_validation() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="unknown route"):
        FlaskBenchConfig(routes=("zzz",))
    assert FlaskBenchConfig(workers=2, threads=4).load_concurrency == 8


def test_bench_command_writes_strict_json(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loopbridge.cli", "bench", "--quick", "--section", "roundtrip", "--no-chart", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "bench.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert data["quick"] is True and "roundtrip" in data["sections"]
    assert data["total_s"] >= data["timings_s"]["roundtrip"] > 0
    assert "Targets" in out.stdout and "the bench took" in out.stdout


@pytest.mark.usefixtures("fresh_loop")
def test_run_bench_hands_over_the_figures_after_each_section() -> None:
    seen: list[list[str]] = []
    result = run_bench(("roundtrip",), True, after_section=lambda r: seen.append(sorted(r["sections"])))
    assert seen == [["roundtrip"]]
    assert result["errors"] == {} and "total_s" in result


def _loaded_after(code: str) -> list[str]:
    """The runtime packages in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({_RUNTIME!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_bench_package_and_its_command_import_no_runtime() -> None:
    code = ("import loopbridge.bench, loopbridge.bench._cli, loopbridge.bench._chart, loopbridge.bench.upstream\n"
            "from loopbridge.cli import main\n"
            "try:\n    main(['bench', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code")
    assert _loaded_after(code) == []


def test_fanout_section_runs_on_its_own_upstream_without_the_demo_app() -> None:
    code = ("from loopbridge.bench.fanout import run_fanout_bench\n"
            "r = run_fanout_bench(n=12, latency_ms=5, concurrency=4, repeat=1, pairs=1, serial_budget_s=1)\n"
            "assert sum(r['errors'].values()) == 0, r['errors']")
    assert "legacy_app" not in _loaded_after(code)


def test_upstream_answers_after_the_latency_its_route_names() -> None:
    with upstream() as base:
        assert base.startswith("http://127.0.0.1:")
        started = time.perf_counter()
        with urllib.request.urlopen(delay_url(base, 60, i=3), timeout=10) as resp:
            assert resp.status == 200 and resp.read() == b"ok"
        assert time.perf_counter() - started >= 0.055
        for bad in ("/delay/-1", "/delay/soon", "/delay/70000"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(base + bad, timeout=10)
            info.value.close()  # an HTTPError holds the response and its socket
            assert info.value.code == 400
    with pytest.raises(urllib.error.URLError):  # the server was stopped with the block
        urllib.request.urlopen(delay_url(base, 0), timeout=5)


def test_upstream_hands_back_a_given_url_and_refuses_a_non_http_one() -> None:
    with upstream("http://127.0.0.1:9/") as base:
        assert base == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="http"), upstream("ftp://example.org"):
        pass


@pytest.mark.usefixtures("fresh_loop")
def test_fanout_bench_times_four_ways_with_cpu_per_request() -> None:
    result = run_fanout_bench(n=30, latency_ms=10, concurrency=10, repeat=2, pairs=2, serial_budget_s=0.3)
    assert result["errors"] == {"serial": 0, "threads": 0, "bridge": 0, "aiohttp_floor": 0, "aiohttp_timeouts": 0}
    for way in ("serial", "threads", "bridge", "aiohttp_floor", "aiohttp_timeouts"):
        fig = result[way]
        assert fig["min_s"] <= fig["median_s"] <= fig["max_s"] and fig["cpu_ms_per_req"] > 0
    # no way beats the physical limit: ceil(30 / 10) × 10 ms
    assert result["limit_s"] == pytest.approx(0.03)
    assert min(result[w]["min_s"] for w in ("threads", "bridge", "aiohttp_floor", "aiohttp_timeouts")) >= 0.03
    assert result["serial"]["extrapolated"] and result["serial"]["measured_on"] < 30
    assert result["ratios"]["bridge_vs_aiohttp_floor"] == pytest.approx(
        result["bridge"]["median_s"] / result["aiohttp_floor"]["median_s"])
    assert result["aiohttp_timeouts_s"] == {"connect": 30.0, "read": 30.0, "total": 60.0}
    assert "bridge.http.map" in format_fanout_table(result) and "the same timeouts" in format_fanout_table(result)


@pytest.mark.usefixtures("fresh_loop")
def test_session_section_measures_the_adapter_or_says_it_is_missing() -> None:
    if not adapter_available():
        assert _session(True, None) == {"skipped": "bridge.http.LoopBridgeAdapter is not in this version"}
        with pytest.raises(RuntimeError, match="LoopBridgeAdapter"):
            run_session_bench(threads=2, duration=0.1, repeat=1)
        return
    result = run_session_bench(threads=4, latency_ms=10, duration=0.4, repeat=2, fan_threads=(2,), fan_calls=4)
    for variant in ("stock", "adapter"):
        fig = result["variants"][variant]
        assert fig["errors"] == 0 and fig["requests"] > 0
        assert fig["rps_min"] <= fig["rps"] <= fig["rps_max"] <= result["ceiling_rps"] * 1.05
        assert fig["cpu_ms_per_req"] > 0
    assert math.isfinite(result["ratios"]["adapter_vs_stock_rps"])
    # requests' own work is part of what the stock variant pays per request, socket work on top
    adapter = result["variants"]["adapter"]
    assert 0 < adapter["loop_cpu_ms_per_req"] < adapter["cpu_ms_per_req"]  # part of the process's
    assert result["variants"]["stock"]["loop_cpu_ms_per_req"] == 0  # the stock variant never uses the loop
    own = result["requests_own_cpu_ms_per_req"]
    assert 0 < own < result["variants"]["stock"]["cpu_ms_per_req"]
    assert 0 < result["ratios"]["requests_own_vs_stock_cpu"] < 1
    # the fan-out part: app requests of 4 calls, in sequence on a stock Session vs map(session=)
    (part,) = result["fanout"]["by_threads"]
    assert part["threads"] == 2 and result["fanout"]["calls"] == 4
    for variant, ceiling in (("seq", part["ceiling_seq_rps"]), ("map", part["ceiling_map_rps"])):
        fig = part["variants"][variant]
        assert fig["errors"] == 0 and fig["requests"] > 0
        assert fig["rps_min"] <= fig["rps"] <= fig["rps_max"] <= ceiling * 1.05
    assert part["variants"]["seq"]["loop_cpu_ms_per_req"] == 0 < part["variants"]["map"]["loop_cpu_ms_per_req"]
    assert part["ceiling_seq_rps"] == pytest.approx(2 / 0.040) and part["ceiling_map_rps"] == pytest.approx(2 / 0.010)
    # four 10 ms waits one after the other cannot beat four sent together
    assert result["ratios"]["map_session_vs_seq_rps"] == part["map_vs_seq_rps"] > 1
    table = format_session_table(result)
    assert "LoopBridgeAdapter" in table and "requests' own work per call" in table
    assert "map ÷ sequential" in table and "bridge.http.map(urls, session=)" in table


def test_session_section_refuses_bad_fan_out_parameters() -> None:
    for bad in ({"fan_threads": [4]}, {"fan_threads": (0,)}, {"fan_threads": (True,)}):
        with pytest.raises(ValueError, match="fan_threads must be a tuple"):
            run_session_bench(**bad)  # type: ignore[arg-type]
    for calls in (1, 2.5, True):
        with pytest.raises(ValueError, match="fan_calls must be an int >= 2"):
            run_session_bench(fan_calls=calls)  # type: ignore[arg-type]


def test_requests_own_cpu_refuses_a_bad_count() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="calls must be an int >= 1"):
            requests_own_cpu("http://127.0.0.1:9/", calls=bad)  # type: ignore[arg-type]


def _measured() -> dict[str, Any]:
    """A result shaped as a full run writes it (figures made up, round numbers)."""
    def route(rps: float, cpu: float) -> dict[str, float]:
        return {"rps": rps, "cpu_ms_per_req": cpu}

    def way(s: float, cpu: float) -> dict[str, float]:
        return {"median_s": s, "min_s": s, "max_s": s, "cpu_ms_per_req": cpu}

    return {
        "machine": {"python": "3.11.7", "cpus": 2, "machine": "x86_64", "platform": "Linux-6.1", "implementation": "CPython"},
        "quick": False,
        "sections": {
            "flask": {"load": "wrk", "config": {"workers": 2, "threads": 16, "delay_ms": 25.0},
                      "routes": {"a_sync_requests": route(900, 1.5), "c_async_loopbridge": route(950, 1.1),
                                 "d_sync_bridge_http": route(1000, 1.0), "fan_seq": route(100, 10.0),
                                 "fan_map": route(400, 3.0)}},
            "fanout": {"params": {"n": 400, "latency_ms": 25.0, "concurrency": 100, "pool_threads": 32},
                       "serial": {**way(11.0, 1.5), "extrapolated": True, "measured_on": 74},
                       "threads": way(0.5, 0.7), "bridge": way(0.14, 0.15)},
        },
    }


def test_chart_scenarios_put_legacy_next_to_bridged_with_the_speed_up() -> None:
    found = scenarios(_measured())
    assert [s.title for s in found] == ["One upstream call per request", "10-call fan-out per request", "A 400-call batch"]
    one, fan, batch = found
    assert one.bars[0].label == "requests" and one.bars[-1].label == "bridge.http.get"  # the faster bridged route
    assert one.speedup(one.bars[-1]) == pytest.approx(1000 / 900)
    assert fan.speedup(fan.bars[-1]) == pytest.approx(4.0)
    assert batch.unit == "s" and batch.speedup(batch.bars[-1]) == pytest.approx(11.0 / 0.14)
    assert [b.bridged for b in batch.bars] == [False, False, True]
    assert "74 URLs" in batch.note
    title = chart_title(_measured())
    assert "full run" in title and "wrk" in title and "2 CPUs" in title
    quick = {**_measured(), "quick": True}
    quick["sections"]["flask"]["load"] = "loopbridge.bench.loadgen"
    assert "--quick" in chart_title(quick) and "built-in load generator" in chart_title(quick)
    assert "load" not in chart_title({"machine": {"cpus": 2}, "sections": {}})


def test_chart_is_drawn_as_a_png_and_skipped_without_scenarios(tmp_path: Path) -> None:
    png = render_chart(_measured(), tmp_path / "bench.png")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert render_chart({"sections": {}}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_report_says_how_long_quick_took_and_whether_it_kept_its_budget() -> None:
    base = {"machine": {}, "sections": {}, "targets": [], "quick": True, "timings_s": {"flask": 50.0, "lint": 20.0}}
    assert "took 41 s (--quick promises under 60 s)" in render_tables({**base, "total_s": 41.2})
    over = render_tables({**base, "total_s": 75.0})
    assert "over the 60 s --quick promises" in over and "slowest section was flask (50 s)" in over


def test_bench_command_refuses_a_non_http_upstream() -> None:
    out = subprocess.run([sys.executable, "-m", "loopbridge.cli", "bench", "--upstream", "localhost:80", "--no-chart"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--upstream" in out.stderr
