"""What the request sampler costs: the Flask one-call routes with the stats endpoint on, sampling on vs off.

Two gunicorn (gthread) servers of the bench app (:mod:`loopbridge.bench.flask_app`) run side by
side, both with the stats endpoint on (``LOOPBRIDGE_STATS_URL``); one samples its worker threads
every ``LOOPBRIDGE_STATS_SAMPLE_MS`` (50 ms, the default), the other does not
(``LOOPBRIDGE_STATS_SAMPLE_MS=0``). The same load is put on each in turn, round after round
(interleaved), and the ratios on ÷ off are taken round by round and their median reported:
req/s and CPU per request. The cost itself is also read directly: the CPU time the sampling
threads used (the stats' ``blocked.cpu_ms`` of each worker) over the workers' CPU time in the
same rounds, ``sampler_cpu_share`` (≤ 0.02 is the target: at most 2 %).
"""

from __future__ import annotations

import dataclasses

import json
import os
import shutil
import urllib.request
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .flask_e2e import (ROUTES, FlaskBenchConfig, _cpu_seconds, _free_port, _measure_route, _process, _wait_workers,
                        warm_up)
from .upstream import upstream

__all__ = ["SAMPLED_ROUTES", "run_sampler_bench"]

#: the one-call routes measured: a sync view blocking in requests (what the sampler sorts) and
#: a sync view calling bridge.http.get (waiting in a bridged call)
SAMPLED_ROUTES = ("a_sync_requests", "d_sync_bridge_http")


def run_sampler_bench(cfg: FlaskBenchConfig | None = None, upstream_url: str | None = None,
                      sample_ms: float = 50.0) -> dict[str, Any]:
    """Measure the sampler's cost; return per-variant medians and the on ÷ off ratios.

    ``cfg.repeat`` rounds, each measuring every route of :data:`SAMPLED_ROUTES` on both
    servers, alternating which goes first.
    """
    cfg = cfg or FlaskBenchConfig(routes=SAMPLED_ROUTES)
    if not 1 <= sample_ms <= 10_000:
        raise ValueError(f"sample_ms must be in [1, 10000], got {sample_ms!r}")
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    if not Path(gunicorn).exists():
        gunicorn = shutil.which("gunicorn") or ""
    if not gunicorn:
        raise RuntimeError("the sampler benchmark needs gunicorn: pip install 'loopbridge[bench]'.")
    routes = [r for r in cfg.routes if r in SAMPLED_ROUTES] or list(SAMPLED_ROUTES)
    variants = {"on": f"{sample_ms:g}", "off": "0"}
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {v: {r: [] for r in routes} for v in variants}
    with upstream(upstream_url) as upstream_base, ExitStack() as stack:
        servers: dict[str, tuple[str, list[int]]] = {}
        for variant, value in variants.items():
            port = _free_port()
            env = {**os.environ, "LOOPBRIDGE_BENCH_UPSTREAM": upstream_base,
                   "LOOPBRIDGE_BENCH_DELAY_MS": f"{cfg.delay_ms:g}",
                   "LOOPBRIDGE_STATS_URL": "/_loopbridge/stats", "LOOPBRIDGE_STATS_SAMPLE_MS": value}
            cmd = [gunicorn, "-k", "gthread", "-w", str(cfg.workers), "--threads", str(cfg.threads),
                   "-b", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning",
                   "loopbridge.bench.flask_app:app"]
            proc = stack.enter_context(_process(cmd, port, f"gunicorn (sampling {variant})", env))
            servers[variant] = (f"http://127.0.0.1:{port}", _wait_workers(proc.pid, cfg.workers))
        for base, _ in servers.values():  # warm-up: imports, loop start, pools, the sampler thread
            warm_up(base, dataclasses.replace(cfg, routes=tuple(routes)))
        on_base, on_workers = servers["on"]
        cpu_before = {pid: _cpu_seconds(pid) for pid in on_workers}
        sampler_before = _sampler_cpu(on_base, on_workers)
        order = list(variants)
        for _ in range(cfg.repeat):
            for route in routes:
                for variant in order:
                    base, workers = servers[variant]
                    samples[variant][route].append(_measure_route(base, ROUTES[route][0], workers, cfg))
            order.reverse()  # neither variant always runs first
        sampler_after = _sampler_cpu(on_base, on_workers)
        worker_cpu = sum(_cpu_seconds(pid) - cpu_before[pid] for pid in on_workers)
    result = _summarise(samples, routes, cfg, sample_ms)
    if sampler_before is not None and sampler_after is not None and worker_cpu > 0:
        # the sampling threads' own CPU time over the workers' whole CPU time, same run: the cost
        # itself, which the req/s ratios on a shared machine cannot resolve below a few %
        result["ratios"]["sampler_cpu_share"] = (sampler_after - sampler_before) / worker_cpu
    return result


def _sampler_cpu(base: str, workers: list[int]) -> float | None:
    """The CPU seconds the sampling threads of all ``workers`` have used (from their stats)."""
    seen: dict[int, float] = {}
    for _ in range(40):  # bounded: each request lands on one worker
        try:
            with urllib.request.urlopen(base + "/_loopbridge/stats", timeout=10) as resp:
                stats = json.loads(resp.read())
        except (OSError, ValueError):
            continue
        seen[int(stats.get("pid", 0))] = float(stats.get("blocked", {}).get("cpu_ms", 0.0)) / 1000
        if set(workers) <= set(seen):
            return sum(seen[pid] for pid in workers)
    return None


def _summarise(samples: dict[str, dict[str, list[dict[str, Any]]]], routes: list[str], cfg: FlaskBenchConfig,
               sample_ms: float) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    for route in routes:
        on, off = samples["on"][route], samples["off"][route]
        figures[route] = {
            "label": ROUTES[route][1],
            "rps_on": statistics.median(r["rps"] for r in on), "rps_off": statistics.median(r["rps"] for r in off),
            "cpu_ms_per_req_on": statistics.median(r["cpu_ms_per_req"] for r in on),
            "cpu_ms_per_req_off": statistics.median(r["cpu_ms_per_req"] for r in off),
            "errors": sum(r["errors"] for r in on + off),
        }
        ratios[f"{route}_rps_on_vs_off"] = statistics.median(
            a["rps"] / b["rps"] for a, b in zip(on, off, strict=True) if b["rps"])
        ratios[f"{route}_cpu_on_vs_off"] = statistics.median(
            a["cpu_ms_per_req"] / b["cpu_ms_per_req"] for a, b in zip(on, off, strict=True) if b["cpu_ms_per_req"])
    first = routes[0]
    ratios["one_call_rps_on_vs_off"] = ratios[f"{first}_rps_on_vs_off"]
    return {"config": cfg.__dict__ | {"routes": routes, "sample_ms": sample_ms}, "routes": figures, "ratios": ratios}
