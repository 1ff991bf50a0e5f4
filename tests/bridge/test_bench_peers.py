"""The bench's peers section: gevent, eventlet and awaitlet next to the bridge, each way in its own process."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopbridge.bench._chart import scenarios
from loopbridge.bench._cli import _peers
from loopbridge.bench.peers import BATCH_WAYS, PeersConfig, format_peers_table, missing_peers

_ROOT = Path(__file__).resolve().parents[2]
_NEEDED = {name: why for name, why in missing_peers().items() if name in ("gevent", "awaitlet")}


@pytest.fixture(scope="module")
def quick() -> dict[str, Any]:
    """The section as ``loopbridge bench --quick`` runs it, once for the tests below."""
    if _NEEDED:
        pytest.skip("; ".join(_NEEDED.values()))
    return _peers(True, None)


def test_every_way_ran_on_the_sockets_it_claims(quick: dict[str, Any]) -> None:
    checks = quick["checks"]
    assert checks["gevent"] == {"socket_module": "gevent._socket3", "patched": True}
    for way in ("threads", "bridge", "aiohttp", "hop"):
        assert checks[way] == {"socket_module": "socket", "patched": False}
    # gunicorn's gevent worker really started, both workers, each serving on gevent's sockets
    assert checks["gunicorn gevent"] == {"socket_module": ["gevent._socket3"], "workers": 2}
    assert checks["gunicorn gthread"] == {"socket_module": ["socket"], "workers": 2}
    if importlib.util.find_spec("eventlet") is not None:
        assert checks["eventlet"] == {"socket_module": "eventlet.greenio.base", "patched": True}
    else:
        assert any(s["what"] == "the eventlet way" and "loopbridge[peers]" in s["why"] for s in quick["not_run"])
    if importlib.util.find_spec("gunicorn.workers.geventlet") is None:
        assert any(s["what"] == "gunicorn's eventlet worker" and "no eventlet worker class" in s["why"]
                   for s in quick["not_run"])


def test_the_batch_is_timed_for_every_way_above_the_physical_limit(quick: dict[str, Any]) -> None:
    batch = quick["batch"]
    assert batch["limit_s"] == pytest.approx(0.1)  # ceil(400 / 100) × 25 ms
    expected = set(BATCH_WAYS) - {s["what"].split()[1] for s in quick["not_run"] if s["what"].endswith(" way")}
    assert set(batch["ways"]) == expected and {"gevent", "bridge", "aiohttp"} <= expected
    for fig in batch["ways"].values():
        assert fig["errors"] == 0
        assert batch["limit_s"] <= fig["min_s"] <= fig["median_s"] <= fig["max_s"]
        assert fig["cpu_ms_per_req"] > 0
    assert quick["ratios"]["gevent_vs_bridge_batch_s"] == pytest.approx(
        batch["ways"]["gevent"]["median_s"] / batch["ways"]["bridge"]["median_s"])


def test_flask_runs_under_the_gevent_worker_and_gthread(quick: dict[str, Any]) -> None:
    runs = quick["flask"]["runs"]
    assert set(runs) == {"gevent_a", "gevent_fan_seq", "gthread_d", "gthread_fan_map"}
    for key, fig in runs.items():
        assert fig["errors"] == 0, key
        assert fig["rss_mib_per_worker"] > 0
    for key in ("gevent_a", "gthread_d"):  # one upstream call per request: some are done within a second
        assert runs[key]["rps"] > 0 and runs[key]["cpu_ms_per_req"] > 0
    assert runs["gevent_a"]["worker"] == "gevent" and runs["gthread_d"]["path"] == "/d"
    # the bridged view inside the gevent worker: asyncio's own loop becomes a greenlet and answers;
    # uvloop's loop waits in libuv, which gevent cannot patch, and holds the worker's one thread
    probes = quick["flask"]["probes"]
    assert probes["gevent_asyncio"]["answered"] is True, probes
    assert probes["gevent"]["answered"] is (importlib.util.find_spec("uvloop") is None), probes
    assert quick["checks"]["gunicorn gevent_asyncio"]["socket_module"] == ["gevent._socket3"]


def test_the_hop_puts_awaitlet_next_to_the_thread_hops(quick: dict[str, Any]) -> None:
    hops = quick["hop"]["variants"]
    assert set(hops) == {"run", "raw", "asgiref_loop_thread", "asgiref_default", "awaitlet"}
    assert hops["raw"]["vs_raw"] == pytest.approx(1.0)
    for fig in hops.values():
        assert 0 < fig["min"] <= fig["median"] <= fig["max"]
    # a greenlet switch on the loop thread against two thread wake-ups
    assert hops["awaitlet"]["median"] < hops["raw"]["median"]
    table = format_peers_table(quick)
    assert "gevent.pool.Pool(100)" in table and "awaitlet(coro)" in table and "socket checks" in table


def _child(way: str, shadow: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "loopbridge.bench.peer_child", way, *args], input="quit\n",
                         capture_output=True, text=True, timeout=120, cwd=_ROOT,
                         env={"PYTHONPATH": f"{shadow}:{_ROOT}", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[0])  # type: ignore[no-any-return]


def test_a_child_says_which_library_it_lacks(tmp_path: Path) -> None:
    for name in ("gevent", "awaitlet"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    hello = _child("gevent", tmp_path, "--upstream", "http://127.0.0.1:9")
    assert hello == {"ready": False, "missing": "gevent", "why": "ImportError: no gevent here"}
    hop = _child("hop", tmp_path)  # the other hops still run without awaitlet
    assert hop["ready"] is True and hop["missing"] == {"awaitlet": "ImportError: no awaitlet here"}


def test_missing_peers_names_the_extra() -> None:
    probe = "import json; from loopbridge.bench.peers import missing_peers; print(json.dumps(missing_peers()))"
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, timeout=60, cwd=_ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {name: f"{name} is not installed: pip install 'loopbridge[peers]'"
                                      for name in ("gevent", "eventlet", "awaitlet")}


def test_peers_config_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="repeat must be an int >= 1"):
        PeersConfig(repeat=0)
    with pytest.raises(ValueError, match="latency_ms must be a number >= 0"):
        PeersConfig(latency_ms=-1)
    with pytest.raises(ValueError, match="parts must name"):
        PeersConfig(parts=("gevent",))


def test_chart_puts_the_gevent_bar_between_legacy_and_bridged() -> None:
    def way(s: float, cpu: float) -> dict[str, float]:
        return {"median_s": s, "min_s": s, "max_s": s, "cpu_ms_per_req": cpu}

    def route(rps: float, cpu: float) -> dict[str, float]:
        return {"rps": rps, "cpu_ms_per_req": cpu}

    flask = {"config": {"workers": 2, "threads": 16, "delay_ms": 25.0},
             "routes": {"a_sync_requests": route(900, 1.5), "d_sync_bridge_http": route(1000, 1.0),
                        "fan_seq": route(100, 9.0), "fan_map": route(450, 3.0)}}
    fanout = {"params": {"n": 400, "latency_ms": 25.0, "concurrency": 100, "pool_threads": 32},
              "serial": way(11.0, 2.0), "threads": way(0.4, 1.0), "bridge": way(0.14, 0.16)}
    peers = {"batch": {"ways": {"gevent": way(0.4, 0.9)}},
             "flask": {"runs": {"gevent_a": route(950, 1.6), "gevent_fan_seq": route(110, 12.0)}}}
    without = scenarios({"sections": {"flask": flask, "fanout": fanout}})
    found = scenarios({"sections": {"flask": flask, "fanout": fanout, "peers": peers}})
    assert [len(s.bars) for s in without] == [2, 2, 3]
    assert [[b.label.split()[0] for b in s.bars] for s in found] == [
        ["requests", "gevent", "bridge.http.get"], ["requests,", "gevent", "bridge.http.map"],
        ["requests", "ThreadPool(32)", "gevent", "bridge.http.map"]]
    one = found[0]
    assert one.speedup(one.bars[1]) == pytest.approx(950 / 900) and one.bars[-1].bridged
    assert "gevent: the peers section" in found[2].note and not math.isnan(found[2].bars[2].speed)
