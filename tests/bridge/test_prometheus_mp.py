"""Prometheus multiprocess mode: every worker's figures in one scrape, dead workers dropped.

Each case runs in a subprocess (prometheus_client picks its multiprocess storage at import, from
``PROMETHEUS_MULTIPROC_DIR``), with real forked workers serving requests through Flask.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bridge import prometheus

ROOT = Path(__file__).resolve().parents[2]

APP = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from flask import Flask
    import bridge
    from bridge import LoopBridge
    from prometheus_client.parser import text_string_to_metric_families
    app = Flask(__name__)
    app.config.update(LOOPBRIDGE_METRICS_URL="/metrics")
    LoopBridge(app)

    @app.get("/one")
    def one():
        return {"x": bridge.run(asyncio.sleep(0.002, 1))}

    def serve(n):
        client = app.test_client()
        for _ in range(n):
            assert client.get("/one").status_code == 200

    def scrape():
        text = app.test_client().get("/metrics").get_data(as_text=True)
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                key = s.name + json.dumps(dict(sorted(s.labels.items())))
                out[key] = s.value
        return out
    """
)


def _run(body: str, multiproc_dir: Path) -> dict:  # type: ignore[type-arg]
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir), "PYTHONPATH": str(ROOT)}
    env.pop("LOOPBRIDGE_STATS_URL", None)
    proc = subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-c", APP + textwrap.dedent(body)],
                          capture_output=True, text=True, timeout=90, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_one_scrape_carries_every_forked_workers_requests_and_live_gauges(tmp_path: Path) -> None:
    out = _run(
        """
        serve(4)
        pids = []
        for n in (3, 5):
            pid = os.fork()
            if pid == 0:
                serve(n)
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            assert os.waitpid(pid, 0)[1] == 0
        before = scrape()
        from bridge.prometheus import mark_process_dead
        for pid in pids:
            mark_process_dead(pid)
        after = scrape()
        print(json.dumps({"pids": pids, "before": before, "after": after}))
        """,
        tmp_path,
    )
    count = 'loopbridge_request_duration_seconds_count{"endpoint": "one"}'
    calls = 'loopbridge_request_bridged_calls_total{"endpoint": "one"}'
    assert out["before"][count] == 12 and out["before"][calls] == 12  # 4 + 3 + 5, summed over processes
    assert out["before"]['loopbridge_request_bridged_seconds_total{"endpoint": "one"}'] >= 12 * 0.002
    live = {key for key in out["before"] if key.startswith("loopbridge_process{")}
    assert len(live) == 3  # one per live process (liveall: a pid label each)
    # the exited workers' live gauges are gone, their counted requests are not
    assert len([key for key in out["after"] if key.startswith("loopbridge_process{")]) == 1
    assert out["after"][count] >= 12
    assert out["after"]["loopbridge_loop_lag_seconds_count{}"] > 0  # the loop figures are there too
    assert "loopbridge_bridged_calls_in_flight{}" in out["after"]


def test_metrics_are_served_to_loopback_clients_only(tmp_path: Path) -> None:
    out = _run(
        """
        client = app.test_client()
        far = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        near = client.get("/metrics")
        print(json.dumps({"far": far.status_code, "detail": far.get_json()["detail"], "near": near.status_code}))
        """,
        tmp_path,
    )
    assert out["far"] == 403 and "LOOPBRIDGE_STATS_ALLOW" in out["detail"] and out["near"] == 200


def test_gunicorn_hooks_check_their_arguments_and_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        prometheus.on_starting(None)
    with pytest.raises(TypeError, match="positive int"):
        prometheus.mark_process_dead("12")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="worker object"):
        prometheus.child_exit(None, object())
    with pytest.raises(ValueError, match="TCP port"):
        prometheus.serve_metrics(70000)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_123.db").write_bytes(b"x")
    (tmp_path / "keep.txt").write_text("not ours")
    prometheus.on_starting(None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_serve_metrics_answers_for_every_process_on_a_port_of_its_own(tmp_path: Path) -> None:
    from tests.servers.test_wsgi_servers import _free_port

    port = _free_port()
    out = _run(
        f"""
        import urllib.request
        from bridge.prometheus import serve_metrics
        serve_metrics({port})
        serve(2)
        pid = os.fork()
        if pid == 0:
            serve(3)
            os._exit(0)
        os.waitpid(pid, 0)
        with urllib.request.urlopen("http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        count = [line for line in text.splitlines()
                 if line.startswith('loopbridge_request_duration_seconds_count{{endpoint="one"}}')]
        print(json.dumps({{"count": count}}))
        """,
        tmp_path,
    )
    assert len(out["count"]) == 1 and float(out["count"][0].split()[-1]) == 5.0
