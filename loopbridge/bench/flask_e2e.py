"""Flask end to end under gunicorn: the same routes written four ways, measured interleaved.

Starts the bench upstream (:mod:`loopbridge.bench.upstream`) and gunicorn (gthread) as separate
processes on 127.0.0.1, puts load on each route from a third process (``wrk`` when installed,
else :mod:`loopbridge.bench.loadgen`), one new connection per request, and reads each worker's
CPU time and RSS from ``/proc`` around every measurement. Every process is stopped at the end, also on
errors and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .upstream import upstream

__all__ = ["ROUTES", "FlaskBenchConfig", "run_flask_bench"]


#: route key -> (path, what it is, calls to the upstream per request)
ROUTES: dict[str, tuple[str, str, int]] = {
    "a_sync_requests": ("/a", "(a) sync view + requests", 1),
    "b_stock_async": ("/stock/b", "(b) stock Flask async view, session per request", 1),
    "c_async_loopbridge": ("/c", "(c) async view + LoopBridge, shared session", 1),
    "d_sync_bridge_http": ("/d", "(d) sync view + bridge.http.get", 1),
    "d_prometheus": ("/prom/d", "(d) with per-route Prometheus figures (multiprocess mode)", 1),
    "fan_seq": ("/fan/seq", "10-call fan-out: sequential requests", 10),
    "fan_map": ("/fan/map", "10-call fan-out: bridge.http.map", 10),
    "fan_stock_gather": ("/stock/fan/gather", "10-call fan-out: stock async view + gather", 10),
}

#: the per-request cost of the Prometheus figures, measured alone in a process of its own (the
#: on-vs-off routes differ by less than the noise of a busy machine): extra microseconds per
#: request of PrometheusFigures.add over the plain EndpointFigures.add, in multiprocess mode
_PROMETHEUS_COST = """
import os, statistics, sys, tempfile, time
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="lb-prom-cost-")
from bridge._flask_stats import EndpointFigures
from bridge._prometheus import PrometheusFigures
from async_core._metrics_mp import stop_loop_metrics
def per_call(fig, n=20000):
    fig.add("warm", 0.01, 0.005, 1)
    start = time.perf_counter()
    for _ in range(n):
        fig.add("ep", 0.0123, 0.01, 1)
    return (time.perf_counter() - start) / n * 1e6
extra = [per_call(PrometheusFigures()) - per_call(EndpointFigures()) for _ in range(5)]
stop_loop_metrics()
print(statistics.median(extra))
"""

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class FlaskBenchConfig:
    """Shape of the Flask benchmark (validated)."""

    workers: int = 2
    threads: int = 16
    delay_ms: float = 25.0
    duration: float = 4.0
    repeat: int = 3
    concurrency: int | None = None  # default: workers × threads
    routes: tuple[str, ...] = tuple(ROUTES)
    burst_warm_up: bool = False  # warm each route with one burst of requests, not a 0.5 s load (--quick)

    def __post_init__(self) -> None:
        if self.workers < 1 or self.threads < 1 or self.repeat < 1:
            raise ValueError("workers, threads and repeat must be >= 1.")
        if self.duration <= 0 or self.delay_ms < 0:
            raise ValueError("duration must be > 0 and delay_ms >= 0.")
        unknown = set(self.routes) - set(ROUTES)
        if unknown:
            raise ValueError(f"unknown route(s) {sorted(unknown)}; choose from {sorted(ROUTES)}.")

    @property
    def load_concurrency(self) -> int:
        return self.concurrency or self.workers * self.threads


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start (code {proc.returncode}); run it by hand to see why.")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s.")


@contextlib.contextmanager
def _process(cmd: list[str], port: int, what: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc, what)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(x) for x in path.read_text().split()]
    except OSError:
        return []


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime + stime


def _rss_mib(pid: int) -> float:
    try:
        match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return 0.0
    return int(match.group(1)) / 1024 if match else 0.0


def _load(url: str, concurrency: int, duration: float) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk:
        return _load_wrk(wrk, url, concurrency, duration)
    cmd = [sys.executable, "-m", "loopbridge.bench.loadgen", url, "--concurrency", str(concurrency), "--duration", str(duration)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _load_wrk(wrk: str, url: str, concurrency: int, duration: float) -> dict[str, Any]:
    threads = max(1, min(4, concurrency))
    cmd = [wrk, "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(duration))}s", "--latency",
           "-H", "Connection: close", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    reqs = re.search(r"(\d+) requests in ([\d.]+)s", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
    if not reqs:
        raise RuntimeError(f"could not read wrk's output: {out[-500:]}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "requests": int(reqs.group(1)),
        "errors": int(errors.group(1)) if errors else 0,
        "timeouts": int(timeouts.group(1)) if timeouts else 0,  # no answer within wrk's 2 s
        "elapsed_s": float(reqs.group(2)),
        "rps": int(reqs.group(1)) / float(reqs.group(2)),
        "p50_ms": float(p50.group(1)) * scale[p50.group(2)] if p50 else float("nan"),
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
    }


def _measure_route(base: str, path: str, workers: list[int], cfg: FlaskBenchConfig) -> dict[str, Any]:
    cpu_before = sum(_cpu_seconds(pid) for pid in workers)
    figures = _load(base + path, cfg.load_concurrency, cfg.duration)
    cpu_after = sum(_cpu_seconds(pid) for pid in workers)
    done = max(1, figures["requests"])
    figures["cpu_ms_per_req"] = (cpu_after - cpu_before) * 1000 / done
    figures["rss_mib_per_worker"] = statistics.mean(_rss_mib(pid) for pid in workers) if workers else 0.0
    return figures


def run_flask_bench(cfg: FlaskBenchConfig | None = None, upstream_url: str | None = None) -> dict[str, Any]:
    """Run the Flask end-to-end benchmark; return per-route medians with min–max and ratios.

    ``upstream_url``: a server with :mod:`loopbridge.bench.upstream`'s routes (default: start one).
    """
    cfg = cfg or FlaskBenchConfig()
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None and shutil.which("gunicorn") is None:
        raise RuntimeError("the Flask benchmark needs gunicorn: pip install 'loopbridge[bench]'.")
    app_port = _free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    if not Path(gunicorn).exists():
        gunicorn = shutil.which("gunicorn") or "gunicorn"
    app_cmd = [gunicorn, "-k", "gthread", "-w", str(cfg.workers), "--threads", str(cfg.threads),
               "-b", f"127.0.0.1:{app_port}", "--backlog", "2048", "--log-level", "warning",
               "loopbridge.bench.flask_app:app"]
    samples: dict[str, list[dict[str, Any]]] = {r: [] for r in cfg.routes}
    with upstream(upstream_url) as upstream_base, tempfile.TemporaryDirectory(prefix="lb-prom-") as prom_dir:
        env = {**os.environ, "LOOPBRIDGE_BENCH_UPSTREAM": upstream_base,
               "LOOPBRIDGE_BENCH_DELAY_MS": f"{cfg.delay_ms:g}", "PROMETHEUS_MULTIPROC_DIR": prom_dir}
        with _process(app_cmd, app_port, "gunicorn", env) as app:
            base = f"http://127.0.0.1:{app_port}"
            workers = _wait_workers(app.pid, cfg.workers)
            warm_up(base, cfg)
            for _ in range(cfg.repeat):
                for route in cfg.routes:
                    samples[route].append(_measure_route(base, ROUTES[route][0], workers, cfg))
    result = _summarise(samples, cfg)
    if "d_prometheus" in cfg.routes:
        _add_prometheus_cost(result)
    return result


def _add_prometheus_cost(result: dict[str, Any]) -> None:
    out = subprocess.run([sys.executable, "-c", _PROMETHEUS_COST], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"measuring the Prometheus figures' cost failed: {out.stderr.strip()[-500:]}")
    extra_us = float(out.stdout.strip().splitlines()[-1])
    cpu_ms = result["routes"].get("d_sync_bridge_http", {}).get("cpu_ms_per_req")
    result["prometheus_us_per_request"] = extra_us
    result["ratios"]["prometheus_cpu_share"] = extra_us / (cpu_ms * 1000) if cpu_ms else float("nan")


def get_body(url: str) -> str:
    """The body of one GET on a new connection (raises on an HTTP error or a timeout)."""
    request = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return str(resp.read().decode())


def burst(urls: list[str], width: int = 32) -> list[str]:
    """GET every URL, ``width`` at a time (a warm-up: imports, the loop thread, pools, greenlets)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(width, thread_name_prefix="bench-burst") as pool:
        return list(pool.map(get_body, urls))


def warm_up(base: str, cfg: FlaskBenchConfig) -> None:
    """Warm every route of ``cfg``: first imports, the first loop start, pools.

    A 0.5 s load per route (wrk's shortest is 1 s); with ``cfg.burst_warm_up`` (``--quick``) one
    burst of as many requests as the load has connections, at once.
    """
    for route in cfg.routes:
        url = base + ROUTES[route][0]
        if cfg.burst_warm_up:
            burst([url] * cfg.load_concurrency, cfg.load_concurrency)
        else:
            _load(url, cfg.load_concurrency, 0.5)


def _wait_workers(master: int, expected: int, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = _children(master)
        if len(kids) >= expected:
            return kids
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn started {len(_children(master))} of {expected} workers.")


def _summarise(samples: dict[str, list[dict[str, Any]]], cfg: FlaskBenchConfig) -> dict[str, Any]:
    routes: dict[str, Any] = {}
    for route, runs in samples.items():
        fig: dict[str, Any] = {"label": ROUTES[route][1], "path": ROUTES[route][0]}
        for key in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req", "rss_mib_per_worker"):
            values = [r[key] for r in runs]
            fig[key] = statistics.median(values)
            fig[key + "_min"], fig[key + "_max"] = min(values), max(values)
        fig["errors"] = sum(r["errors"] for r in runs)
        routes[route] = fig
    threads = cfg.workers * cfg.threads
    ceiling = threads / (cfg.delay_ms / 1000) if cfg.delay_ms else float("inf")
    return {"config": cfg.__dict__ | {"routes": list(cfg.routes)}, "ceiling_rps_1call": ceiling,
            "load": "wrk" if shutil.which("wrk") else "loopbridge.bench.loadgen", "routes": routes,
            "ratios": _ratios(routes, ceiling)}


def _ratios(routes: dict[str, Any], ceiling: float) -> dict[str, float]:
    def r(a: str, b: str, key: str = "rps") -> float:
        if a in routes and b in routes and routes[b][key]:
            return float(routes[a][key] / routes[b][key])
        return float("nan")

    best = max(("c_async_loopbridge", "d_sync_bridge_http"), key=lambda k: routes.get(k, {}).get("rps", 0))
    out = {
        "one_call_bridge_vs_sync_rps": r(best, "a_sync_requests"),
        "one_call_bridge_vs_sync_cpu": r(best, "a_sync_requests", "cpu_ms_per_req"),
        "one_call_c_vs_a_rps": r("c_async_loopbridge", "a_sync_requests"),
        "one_call_d_vs_a_rps": r("d_sync_bridge_http", "a_sync_requests"),
        "one_call_c_vs_stock_b_rps": r("c_async_loopbridge", "b_stock_async"),
        "fan_map_vs_seq_rps": r("fan_map", "fan_seq"),
        "fan_map_vs_stock_gather_rps": r("fan_map", "fan_stock_gather"),
        "prometheus_on_vs_off_cpu": r("d_prometheus", "d_sync_bridge_http", "cpu_ms_per_req"),
        "prometheus_on_vs_off_rps": r("d_prometheus", "d_sync_bridge_http"),
    }
    if best in routes:
        out["one_call_bridge_vs_ceiling"] = routes[best]["rps"] / ceiling
    return out
