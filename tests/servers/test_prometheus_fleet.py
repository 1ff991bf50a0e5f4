"""A real Prometheus server reading a fleet: two gunicorn instances x 3 workers on 127.0.0.1.

Each instance runs with its own ``PROMETHEUS_MULTIPROC_DIR`` and the gunicorn hooks of
``bridge.prometheus``, and serves every worker's figures on its app's ``/metrics``. Debian's
``prometheus`` (``.ci/run`` installs it) scrapes both every second. After a bounded load, the
request counts ``loopbridge report --prometheus`` reads per endpoint equal the requests sent,
and the report says it read 6 processes in 2 instances.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loopbridge.report._cli import report_command
from tests.servers.test_fleet_servers import Server, _clean, _get, _gunicorn
from tests.servers.test_wsgi_servers import ROOT, _free_port, server_env  # noqa: F401

#: requests sent per instance: (path, Flask endpoint, count)
LOAD = (("/sync-whoami", "sync_whoami", 90), ("/whoami", "whoami", 45))
BURST = 15


def _prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.fail("the Prometheus server is not installed: apt-get install prometheus (.ci/run's system "
                    "packages step installs it); this test does not skip")
    return found


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())["data"]["result"]  # type: ignore[no-any-return]


def _wait_for(what: str, check: Any, timeout: float = 40) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not reached in {timeout}s (last: {last!r})")


class PrometheusServer:
    def __init__(self, tmp: Path, targets: list[str]) -> None:
        self.port = _free_port()
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: web\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: [{', '.join(repr(t) for t in targets)}]\n"
        )
        cmd = [_prometheus_binary(), f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_for("Prometheus ready", self._ready, timeout=30)

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.proc.communicate()[1][-2000:]}")
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def _send(server: Server) -> dict[str, int]:
    """The bounded load on one instance, in concurrent bursts; endpoint -> 200 answers."""
    done: dict[str, int] = {}
    with ThreadPoolExecutor(BURST) as pool:
        for path, endpoint, count in LOAD:
            answers = list(pool.map(lambda _: _get(server.url(path)), range(count)))
            assert all(body["loop_thread_name"] == "loopbridge-loop" for body in answers)
            done[endpoint] = len(answers)
    return done


def _report_json(*args: str) -> dict[str, Any]:
    """``loopbridge report ... --format json`` in-process, its output parsed."""
    result = CliRunner().invoke(report_command, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_prometheus_reads_the_fleets_request_counts_exactly(tmp_path: Path, server_env: dict[str, str]) -> None:  # noqa: F811
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("from bridge.prometheus import child_exit, on_starting  # noqa: F401\n")
    instances: list[Server] = []
    prometheus = None
    try:
        for name in ("a", "b"):
            env = {**server_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"metrics-{name}"),
                   "LOOPBRIDGE_METRICS_URL": "/metrics"}
            instances.append(_gunicorn(env, "-c", str(conf), "-k", "sync", "-w", "3"))
        prometheus = PrometheusServer(tmp_path, [f"127.0.0.1:{s.port}" for s in instances])
        sent: dict[str, int] = {}
        for server in instances:
            for endpoint, count in _send(server).items():
                sent[endpoint] = sent.get(endpoint, 0) + count
        assert sent == {"sync_whoami": 180, "whoami": 90}

        def scraped() -> dict[str, float] | None:
            rows = _query(prometheus.url, 'sum by (endpoint) (loopbridge_request_duration_seconds_count{job="web"})')
            got = {r["metric"]["endpoint"]: float(r["value"][1]) for r in rows}
            return got if all(got.get(e) == n for e, n in sent.items()) else None

        _wait_for("every request scraped", scraped)
        _wait_for("six live workers", lambda: len(_query(prometheus.url, 'loopbridge_process{job="web"}')) == 6)
        result = _report_json(str(ROOT / "tests/servers/bridged_app.py"), "--prometheus", prometheus.url,
                              "--window", "10m", "--label", "job=web")
    finally:
        if prometheus is not None:
            prometheus.stop()
        for server in instances:
            _clean(server.stop())
    live = {r["endpoint"]: r["live"] for r in result["routes"]}
    for endpoint, count in sent.items():
        assert live[endpoint]["requests"] == count, (endpoint, live[endpoint])
        assert live[endpoint]["bridged_calls"] == count  # one bridged call each (the sync view, the async view)
        assert live[endpoint]["total_ms"] >= live[endpoint]["bridged_ms"] > count * 5 * 0.9  # 5 ms sleeps
    fleet = result["live"]["process"]["fleet"]
    assert (fleet["processes"], fleet["instances"], fleet["hosts"]) == (6, 2, 1)
    assert "figures from 6 processes on 1 host (2 scraped instances)" in result["live"]["note"]
    print(f"\nPrometheus fleet: sent {sent}, report read "
          f"{ {e: live[e]['requests'] for e in sent} } from {fleet['processes']} processes in {fleet['instances']} instances")
