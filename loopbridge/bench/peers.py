"""Why not gevent? The green-thread ways next to the bridged ways, each in a process of its own.

Three parts, each against the bench upstream (:mod:`loopbridge.bench.upstream`, every URL
answering after exactly ``latency_ms``):

- **batch**: the 400-call batch from sync code — ``gevent.pool.Pool(N)`` and eventlet's
  ``GreenPool(N)`` over a monkey-patched ``requests.Session``, ``ThreadPoolExecutor`` +
  requests, ``bridge.http.map`` and bare aiohttp. Each way lives in a child process of its own
  (:mod:`loopbridge.bench.peer_child`: gevent's patching is process-wide), started once and
  warmed, then driven round by round, taking turns; CPU is the child's, all its threads.
- **flask**: the bench's Flask app (:mod:`loopbridge.bench.flask_app`, the same file for every
  worker class) under gunicorn's gevent worker (and eventlet's, where this gunicorn still has
  one) serving the unchanged sync view + requests — one call per request and the 10-call
  fan-out done one by one — next to gunicorn gthread with ``bridge.http.get`` and
  ``bridge.http.map`` (the full run adds gthread with the unchanged view, and an upstream of
  250 ms under 4 connections per gthread thread: more requests in flight than threads); load,
  req/s, p50/p99, worker CPU per request and RSS as in :mod:`loopbridge.bench.flask_e2e`. Last, one request to the bridged view under the gevent
  worker shows what mixing the two does: with the default loop (uvloop when installed) and,
  on a second gevent server, with asyncio's own loop (``LOOPBRIDGE_UVLOOP=0``).
- **hop**: the sync → async hop of a trivial coroutine: ``bridge.run``,
  ``run_coroutine_threadsafe``, asgiref, and awaitlet's greenlet switch.

Honest figures: every child reports the module of its ``socket.socket`` and its own check that
a green way is patched; every gunicorn worker answers the same through the app's ``/socket``.
A green way found unpatched, or a threaded one found patched, fails the section. What cannot run
here (a library not installed, a worker class this gunicorn lacks) is skipped and said.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .peer_child import GREEN_WAYS, HOP_VARIANTS
from .flask_e2e import burst, get_body
from .upstream import upstream

__all__ = ["BATCH_WAYS", "FLASK_RUNS", "PeersConfig", "format_peers_table", "missing_peers", "run_peers_bench"]

#: batch way -> what it is, for tables
BATCH_WAYS = {
    "gevent": "gevent.pool.Pool({c}) + requests (patched)",
    "eventlet": "eventlet GreenPool({c}) + requests (patched)",
    "threads": "ThreadPoolExecutor({t}) + requests",
    "bridge": "bridge.http.map, concurrency {c}",
    "aiohttp": "bare aiohttp, no loopbridge",
}
#: run key -> (server, path, what it is); the first four are every run's, the rest the full run's; the
#: ``_slow`` servers' upstream answers after 250 ms and their load has 4 connections per gthread thread
FLASK_RUNS: dict[str, tuple[str, str, str]] = {
    "gevent_a": ("gevent", "/a", "gevent worker: sync view + requests"),
    "gevent_fan_seq": ("gevent", "/fan/seq", "gevent worker: 10 calls one by one"),
    "gthread_d": ("gthread", "/d", "gthread: sync view + bridge.http.get"),
    "gthread_fan_map": ("gthread", "/fan/map", "gthread: 10 calls, bridge.http.map"),
    "eventlet_a": ("eventlet", "/a", "eventlet worker: sync view + requests"),
    "eventlet_fan_seq": ("eventlet", "/fan/seq", "eventlet worker: 10 calls one by one"),
    "gthread_a": ("gthread", "/a", "gthread: sync view + requests"),
    "gthread_fan_seq": ("gthread", "/fan/seq", "gthread: 10 calls one by one"),
    "gevent_slow_a": ("gevent_slow", "/a", "gevent worker: sync view + requests"),
    "gthread_slow_a": ("gthread_slow", "/a", "gthread: sync view + requests"),
    "gthread_slow_d": ("gthread_slow", "/d", "gthread: sync view + bridge.http.get"),
}
_QUICK_RUNS = ("gevent_a", "gevent_fan_seq", "gthread_d", "gthread_fan_map")
#: the slow upstream of the "more requests than threads" runs, and their load's connections per thread
_SLOW_MS, _SLOW_LOAD = 250.0, 4
#: server -> (gunicorn worker class, its environment over the bench's)
_SERVERS: dict[str, tuple[str, dict[str, str]]] = {
    "gthread": ("gthread", {}),
    "gevent": ("gevent", {}),
    "eventlet": ("eventlet", {}),
    "gevent_asyncio": ("gevent", {"LOOPBRIDGE_UVLOOP": "0"}),  # for the probe only
    "gthread_slow": ("gthread", {"LOOPBRIDGE_BENCH_DELAY_MS": f"{_SLOW_MS:g}"}),
    "gevent_slow": ("gevent", {"LOOPBRIDGE_BENCH_DELAY_MS": f"{_SLOW_MS:g}"}),
}
#: the socket module a worker of each class must show (a prefix)
_SOCKET_OF = {"gevent": "gevent", "eventlet": "eventlet", "gthread": "socket"}
_GUNICORN_MODULE = {"gevent": "gunicorn.workers.ggevent", "eventlet": "gunicorn.workers.geventlet"}
#: probe server -> what it is; its environment over the bench's
_PROBES = {"gevent": "gevent worker, the default loop (uvloop when installed)",
           "gevent_asyncio": "gevent worker, asyncio's own loop (LOOPBRIDGE_UVLOOP=0)"}
_INSTALL = "pip install 'loopbridge[peers]'"


@dataclass(frozen=True)
class PeersConfig:
    """Shape of the peers section (validated). ``quick`` keeps the Flask part to four runs."""

    n: int = 400
    latency_ms: float = 25.0
    concurrency: int = 100
    pool_threads: int = 32
    repeat: int = 5
    workers: int = 2
    threads: int = 16
    flask_duration: float = 5.0
    flask_repeat: int = 3
    hop_calls: int = 3000
    hop_repeat: int = 7
    probe_timeout: float = 5.0
    quick: bool = False
    parts: tuple[str, ...] = ("batch", "flask", "hop")

    def __post_init__(self) -> None:
        for name in ("n", "concurrency", "pool_threads", "repeat", "workers", "threads", "flask_repeat",
                     "hop_calls", "hop_repeat"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
        for name in ("latency_ms", "flask_duration", "probe_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}.")
        if not self.flask_duration > 0:
            raise ValueError("flask_duration must be > 0 seconds.")
        unknown = set(self.parts) - {"batch", "flask", "hop"}
        if unknown or not self.parts:
            raise ValueError(f"parts must name some of batch, flask, hop; got {self.parts!r}.")


def missing_peers() -> dict[str, str]:
    """The peer libraries this interpreter cannot find, each with what to do about it."""
    return {name: f"{name} is not installed: {_INSTALL}" for name in ("gevent", "eventlet", "awaitlet")
            if importlib.util.find_spec(name) is None}


class _Child:
    """One way in its own interpreter, driven line by line (see :mod:`loopbridge.bench.peer_child`)."""

    def __init__(self, way: str, args: list[str]) -> None:
        self.way = way
        self._stderr: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([sys.executable, "-m", "loopbridge.bench.peer_child", way, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True)

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            line = self.proc.stdout.readline() if sel.select(timeout) else ""
        if not line:
            self._stderr.seek(0)
            tail = self._stderr.read()[-800:].strip()
            raise RuntimeError(f"the {self.way} child gave no answer within {timeout:g}s "
                               f"(exit code {self.proc.poll()}); its stderr: {tail or '(empty)'}")
        data: dict[str, Any] = json.loads(line)
        if "error" in data:
            raise RuntimeError(data["error"])
        return data

    def hello(self, timeout: float = 90.0) -> dict[str, Any]:
        return self._read(timeout)

    def ask(self, command: str, timeout: float = 120.0) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


@contextlib.contextmanager
def _children(ways: dict[str, list[str]]) -> Iterator[dict[str, _Child]]:
    """Start every way at once (each with its arguments); stop them all when the block ends."""
    started: dict[str, _Child] = {}
    try:
        for way, args in ways.items():
            started[way] = _Child(way, args)
        yield started
    finally:
        for child in started.values():
            child.close()


def _greet(children: dict[str, _Child], out: dict[str, Any]) -> dict[str, _Child]:
    """The children that say they are ready, their sockets checked; the others are said in ``not_run``."""
    ready: dict[str, _Child] = {}
    for way, child in children.items():
        hello = child.hello()
        if not hello["ready"]:
            out["not_run"].append({"what": f"the {way} way", "why": f"{hello['why']} ({_INSTALL})"})
            continue
        _check_socket(way, hello["socket_module"], hello["patched"])
        out["checks"][way] = {"socket_module": hello["socket_module"], "patched": hello["patched"]}
        out["versions"].update(hello["versions"])
        out["warnings"] += [w for w in hello["warnings"] if w not in out["warnings"]]
        for module, why in hello.get("missing", {}).items():
            out["not_run"].append({"what": f"the {module} hop", "why": f"{why} ({_INSTALL})"})
        ready[way] = child
    return ready


def _check_socket(way: str, module: str, patched: bool) -> None:
    green = way in GREEN_WAYS
    if green and not (patched and module.startswith(GREEN_WAYS[way])):
        raise RuntimeError(f"the {way} way ran on {module}'s sockets, not {way}'s: its figures would be plain "
                           f"blocking requests'. Check that nothing imported before {way} patched the process.")
    if not green and module != "socket":
        raise RuntimeError(f"the {way} way ran on {module}'s sockets: something patched a process that must "
                           "stay unpatched; run it without gevent or eventlet loaded.")


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _batch(cfg: PeersConfig, ready: dict[str, _Child]) -> dict[str, Any]:
    ways = [way for way in BATCH_WAYS if way in ready]
    samples: dict[str, list[dict[str, Any]]] = {way: [] for way in ways}
    for turn in range(cfg.repeat):
        for way in ways[turn % len(ways):] + ways[:turn % len(ways)]:
            samples[way].append(ready[way].ask("batch"))
    figures: dict[str, Any] = {}
    for way, runs in samples.items():
        wall = _spread([r["wall_s"] for r in runs])
        figures[way] = {"label": BATCH_WAYS[way].format(c=cfg.concurrency, t=cfg.pool_threads),
                        "median_s": wall["median"], "min_s": wall["min"], "max_s": wall["max"],
                        "cpu_ms_per_req": statistics.median(r["cpu_s"] for r in runs) * 1000 / cfg.n,
                        "errors": sum(r["errors"] for r in runs)}
    limit = -(-cfg.n // cfg.concurrency) * cfg.latency_ms / 1000
    return {"ways": figures, "limit_s": limit}


def _hop(cfg: PeersConfig, child: _Child) -> dict[str, Any]:
    rounds: dict[str, list[float]] = {}
    for _ in range(cfg.hop_repeat):
        for name, us in child.ask(f"hop {cfg.hop_calls}")["us_per_call"].items():
            rounds.setdefault(name, []).append(us)
    raw = statistics.median(rounds["raw"]) if "raw" in rounds else float("nan")
    variants: dict[str, dict[str, Any]] = {}
    for name, values in rounds.items():
        spread = _spread(values)
        variants[name] = {"label": HOP_VARIANTS[name], **spread, "vs_raw": spread["median"] / raw}
    return {"calls": cfg.hop_calls, "repeat": cfg.hop_repeat, "variants": variants}


def _gunicorn() -> str:
    local = Path(sys.executable).parent / "gunicorn"
    if local.exists():
        return str(local)
    from shutil import which

    found = which("gunicorn")
    if found is None:
        raise RuntimeError("the peers section's Flask part needs gunicorn: pip install 'loopbridge[bench]'.")
    return found


def _server_cmd(key: str, port: int, cfg: PeersConfig) -> list[str]:
    kind = _SERVERS[key][0]
    cmd = [_gunicorn(), "-k", kind, "-w", str(cfg.workers), "-b", f"127.0.0.1:{port}", "--backlog", "2048",
           "--log-level", "warning", "--graceful-timeout", "2"]
    cmd += ["--threads", str(cfg.threads)] if kind == "gthread" else ["--worker-connections", "1000"]
    return [*cmd, "loopbridge.bench.flask_app:app"]


def _server_keys(cfg: PeersConfig, out: dict[str, Any]) -> list[str]:
    """The servers the chosen runs and the probes need, of worker classes that can run here."""
    from importlib import metadata

    kinds = ["gthread"]
    version = metadata.version("gunicorn")
    for kind in ("gevent", "eventlet"):
        if importlib.util.find_spec(kind) is None:
            out["not_run"].append({"what": f"gunicorn's {kind} worker", "why": f"{kind} is not installed ({_INSTALL})"})
        elif importlib.util.find_spec(_GUNICORN_MODULE[kind]) is None:
            out["not_run"].append({"what": f"gunicorn's {kind} worker",
                                   "why": f"gunicorn {version} has no {kind} worker class any more"})
        else:
            kinds.append(kind)
    wanted = {FLASK_RUNS[key][0] for key in (_QUICK_RUNS if cfg.quick else FLASK_RUNS)} | set(_PROBES)
    return [key for key in _SERVERS if key in wanted and _SERVERS[key][0] in kinds]


@dataclass
class _Server:
    kind: str
    port: int
    proc: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-600:].decode(errors="replace").strip() or "(no output)"


@contextlib.contextmanager
def _servers(kinds: list[str], cfg: PeersConfig, upstream_base: str) -> Iterator[dict[str, _Server]]:
    """Start gunicorn once per worker class, all at once, serving the same app; stop them all at the end."""
    from .flask_e2e import _free_port

    env = {**os.environ, "LOOPBRIDGE_BENCH_UPSTREAM": upstream_base, "LOOPBRIDGE_BENCH_DELAY_MS": f"{cfg.latency_ms:g}"}
    servers: dict[str, _Server] = {}
    try:
        for kind in kinds:
            port = _free_port()
            log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
            own_env = {**env, **_SERVERS[kind][1]}
            proc = subprocess.Popen(_server_cmd(kind, port, cfg), env=own_env, stdout=log, stderr=subprocess.STDOUT)
            servers[kind] = _Server(kind, port, proc, log)
        yield servers
    finally:
        for server in servers.values():
            if server.proc.poll() is None:
                server.proc.terminate()
        for server in servers.values():
            try:
                server.proc.wait(15)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(10)
            server.log.close()


def _socket_module(url: str) -> tuple[str, str]:
    pid, module = get_body(url).split()
    return pid, module


def _socket_check(base: str, workers: list[int], bursts: int = 30, width: int = 32) -> dict[str, str]:
    """Ask ``/socket`` in bursts of ``width`` at once until every worker has said its socket module.

    Sequential requests tend to land on one worker; a burst keeps them all accepting.
    """
    from concurrent.futures import ThreadPoolExecutor

    seen: dict[str, str] = {}
    with ThreadPoolExecutor(width, thread_name_prefix="bench-socket-check") as pool:
        for _ in range(bursts):
            seen.update(pool.map(_socket_module, [base + "/socket"] * width))
            if set(map(str, workers)) <= set(seen):
                return seen
    raise RuntimeError(f"only workers {sorted(seen)} of {workers} answered /socket in {bursts} bursts of {width}; "
                       "is the machine overloaded?")


def _probe(base: str, timeout: float) -> dict[str, Any]:
    """One request to the bridged view (``/d``) under the gevent worker: what mixing the two does."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(base + "/d", timeout=timeout) as resp:
            status = resp.status
    except OSError as exc:  # a timeout, a reset by a killed worker, an HTTP error
        return {"answered": False, "outcome": f"no answer within {timeout:g} s ({type(exc).__name__})"}
    took = (time.perf_counter() - start) * 1000
    return {"answered": True, "outcome": f"HTTP {status} in {took:.0f} ms", "ms": took}


def _ready_servers(servers: dict[str, _Server], cfg: PeersConfig, out: dict[str, Any]) -> dict[str, list[int]]:
    """Wait for each server and its workers, check every worker's socket; a green one that fails is skipped."""
    from .flask_e2e import _wait_port, _wait_workers

    workers: dict[str, list[int]] = {}
    for kind, server in servers.items():
        try:
            _wait_port(server.port, server.proc, f"gunicorn -k {kind}")  # type: ignore[arg-type]
            workers[kind] = _wait_workers(server.proc.pid, cfg.workers)
            seen = _socket_check(server.base, workers[kind])
        except (RuntimeError, OSError) as exc:
            if kind == "gthread":
                raise RuntimeError(f"{exc} gunicorn said: {server.log_tail()}") from exc
            out["not_run"].append({"what": f"gunicorn's {kind} worker", "why": f"{exc} gunicorn said: {server.log_tail()}"})
            workers.pop(kind, None)
            continue
        for module in seen.values():
            worker = _SERVERS[kind][0]
            _check_socket(worker if worker != "gthread" else "threads", module, module.startswith(_SOCKET_OF[worker]))
        out["checks"][f"gunicorn {kind}"] = {"socket_module": sorted(set(seen.values())), "workers": len(seen)}
    return workers


def _flask(cfg: PeersConfig, servers: dict[str, _Server], workers: dict[str, list[int]]) -> dict[str, Any]:
    from .flask_e2e import FlaskBenchConfig, _measure_route

    keys = [k for k in (_QUICK_RUNS if cfg.quick else FLASK_RUNS) if FLASK_RUNS[k][0] in workers]
    load_cfg = FlaskBenchConfig(workers=cfg.workers, threads=cfg.threads, delay_ms=cfg.latency_ms,
                                duration=cfg.flask_duration, repeat=cfg.flask_repeat)
    width = load_cfg.load_concurrency
    slow_cfg = FlaskBenchConfig(workers=cfg.workers, threads=cfg.threads, delay_ms=_SLOW_MS,
                                duration=cfg.flask_duration, repeat=cfg.flask_repeat, concurrency=width * _SLOW_LOAD)
    for key in keys:  # warm-up: first imports, the loop thread and pools, greenlet pools
        kind, path, _ = FLASK_RUNS[key]
        burst([servers[kind].base + path] * width, width)
    samples: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for turn in range(cfg.flask_repeat):
        for key in keys[turn % len(keys):] + keys[:turn % len(keys)]:
            kind, path, _ = FLASK_RUNS[key]
            run_cfg = slow_cfg if kind.endswith("_slow") else load_cfg
            samples[key].append(_measure_route(servers[kind].base, path, workers[kind], run_cfg))
    # last: a probe may freeze a gevent worker for good (it is killed when the server stops)
    probes = {key: {"label": _PROBES[key], **_probe(servers[key].base, cfg.probe_timeout)}
              for key in _PROBES if key in workers}
    return {"config": {"workers": cfg.workers, "threads": cfg.threads, "delay_ms": cfg.latency_ms,
                       "duration": cfg.flask_duration, "repeat": cfg.flask_repeat, "concurrency": width,
                       "slow_delay_ms": _SLOW_MS, "slow_concurrency": slow_cfg.load_concurrency},
            "load": "wrk" if _has_wrk() else "loopbridge.bench.loadgen",
            "runs": {key: _run_figures(key, runs) for key, runs in samples.items() if runs}, "probes": probes}


def _has_wrk() -> bool:
    from shutil import which

    return which("wrk") is not None


def _run_figures(key: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    kind, path, label = FLASK_RUNS[key]
    fig: dict[str, Any] = {"label": label, "worker": _SERVERS[kind][0], "server": kind, "path": path,
                           "errors": sum(r["errors"] for r in runs), "timeouts": sum(r.get("timeouts", 0) for r in runs)}
    for name in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req", "rss_mib_per_worker"):
        spread = _spread([r[name] for r in runs])
        fig[name], fig[name + "_min"], fig[name + "_max"] = spread["median"], spread["min"], spread["max"]
    return fig


def run_peers_bench(cfg: PeersConfig | None = None, upstream_url: str | None = None) -> dict[str, Any]:
    """Run the parts of ``cfg``; return their figures, the socket checks, what did not run and ratios.

    Every child process and server starts at once (so their start-up overlaps), then the parts
    run one after the other: the batch, the Flask runs, the hop.
    ``upstream_url``: a server with :mod:`loopbridge.bench.upstream`'s routes (default: start one).

    Raises:
        RuntimeError: a child or server did not start or answer, or a way ran on the wrong sockets.
    """
    cfg = cfg or PeersConfig()
    out: dict[str, Any] = {"params": {k: v for k, v in cfg.__dict__.items() if k != "parts"} | {"parts": list(cfg.parts)},
                           "not_run": [], "checks": {}, "versions": {}, "warnings": []}
    with upstream(upstream_url) as base, contextlib.ExitStack() as stack:
        batch_args = ["--upstream", base, "--n", str(cfg.n), "--latency-ms", f"{cfg.latency_ms:g}",
                      "--concurrency", str(cfg.concurrency), "--threads", str(cfg.pool_threads)]
        ways = {way: batch_args for way in BATCH_WAYS} if "batch" in cfg.parts else {}
        if "hop" in cfg.parts:
            ways["hop"] = []
        kinds = _server_keys(cfg, out) if "flask" in cfg.parts else []
        servers = stack.enter_context(_servers(kinds, cfg, base))
        ready = _greet(stack.enter_context(_children(ways)), out)
        workers = _ready_servers(servers, cfg, out)
        if "batch" in cfg.parts:
            out["batch"] = _batch(cfg, ready)
        if "flask" in cfg.parts:
            out["flask"] = _flask(cfg, servers, workers)
        if "hop" in ready:
            out["hop"] = _hop(cfg, ready["hop"])
    out["ratios"] = _ratios(out)
    return out


def _ratios(out: dict[str, Any]) -> dict[str, float]:
    def r(section: str, a: str, b: str, fig: str) -> float:
        table = out.get(section, {}).get("ways" if section == "batch" else "runs", {})
        if a in table and b in table and table[b][fig]:
            return float(table[a][fig] / table[b][fig])
        return float("nan")

    ratios = {
        "gevent_vs_bridge_batch_s": r("batch", "gevent", "bridge", "median_s"),
        "gevent_vs_bridge_batch_cpu": r("batch", "gevent", "bridge", "cpu_ms_per_req"),
        "gevent_vs_aiohttp_batch_s": r("batch", "gevent", "aiohttp", "median_s"),
        "bridge_vs_aiohttp_batch_s": r("batch", "bridge", "aiohttp", "median_s"),
        "bridge_vs_aiohttp_batch_cpu": r("batch", "bridge", "aiohttp", "cpu_ms_per_req"),
        "flask_1call_bridge_vs_gevent_rps": r("flask", "gthread_d", "gevent_a", "rps"),
        "flask_1call_bridge_vs_gevent_cpu": r("flask", "gthread_d", "gevent_a", "cpu_ms_per_req"),
        "flask_fan_map_vs_gevent_seq_rps": r("flask", "gthread_fan_map", "gevent_fan_seq", "rps"),
        "flask_fan_map_vs_gevent_seq_cpu": r("flask", "gthread_fan_map", "gevent_fan_seq", "cpu_ms_per_req"),
        "flask_slow_gevent_vs_gthread_rps": r("flask", "gevent_slow_a", "gthread_slow_a", "rps"),
        "flask_slow_gevent_vs_bridge_rps": r("flask", "gevent_slow_a", "gthread_slow_d", "rps"),
    }
    hops = out.get("hop", {}).get("variants", {})
    if "run" in hops and "awaitlet" in hops:
        ratios["hop_run_vs_awaitlet"] = hops["run"]["median"] / hops["awaitlet"]["median"]
    return ratios


def format_peers_table(result: dict[str, Any]) -> str:
    """Render :func:`run_peers_bench`'s result as plain-text tables."""
    p = result["params"]
    lines: list[str] = []
    batch = result.get("batch")
    if batch:
        lines += [f"\nPeers, the {p['n']}-call batch: {p['n']} GETs at {p['latency_ms']:g} ms, {p['concurrency']} in flight, "
                  f"{p['repeat']} interleaved rounds, each way in its own process (median, min–max; CPU: that process)",
                  f"  {'way':<46}{'median':>9}{'min':>9}{'max':>9}{'CPU ms/req':>12}{'errors':>8}"]
        for fig in batch["ways"].values():
            lines.append(f"  {fig['label']:<46}{fig['median_s']:>8.3f}s{fig['min_s']:>8.3f}s{fig['max_s']:>8.3f}s"
                         f"{fig['cpu_ms_per_req']:>12.3f}{fig['errors']:>8}")
        lines.append(f"  {'physical limit ceil(n/c) × latency':<46}{batch['limit_s']:>8.3f}s")
    flask = result.get("flask")
    if flask and flask.get("runs"):
        c = flask["config"]
        lines += [f"\nPeers, Flask (the same app file under each worker class): gevent {c['workers']} workers, gthread "
                  f"{c['workers']}×{c['threads']}, upstream {c['delay_ms']:g} ms, load {flask['load']}, {c['concurrency']} "
                  f"connections, {c['repeat']} rounds of {c['duration']:g} s (timeouts: no answer within wrk's 2 s)",
                  f"  {'run':<42}{'req/s':>7}{'min–max':>12}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/req':>11}{'RSS MiB':>9}"
                  f"{'errors':>7}{'timeouts':>9}"]
        runs = list(flask["runs"].values())
        slow = [fig for fig in runs if fig.get("server", "").endswith("_slow")]
        for fig in [fig for fig in runs if fig not in slow] + slow:
            if slow and fig is slow[0]:
                lines.append(f"  upstream {c['slow_delay_ms']:g} ms, {c['slow_concurrency']} connections: more requests in "
                             f"flight than gthread's {c['workers'] * c['threads']} threads (ceiling "
                             f"{c['workers'] * c['threads'] / c['slow_delay_ms'] * 1000:.0f} req/s for them)")
            span = f"{fig['rps_min']:.0f}–{fig['rps_max']:.0f}"
            lines.append(f"  {fig['label']:<42}{fig['rps']:>7.0f}{span:>12}{fig['p50_ms']:>8.1f}{fig['p99_ms']:>8.1f}"
                         f"{fig['cpu_ms_per_req']:>11.2f}{fig['rss_mib_per_worker']:>9.1f}{fig['errors']:>7}"
                         f"{fig['timeouts']:>9}")
        for probe in flask.get("probes", {}).values():
            lines.append(f"  one request to the bridged view (/d) under the {probe['label']}: {probe['outcome']}")
    hop = result.get("hop")
    if hop and hop.get("variants"):
        lines += [f"\nPeers, the sync → async hop of a trivial coroutine, {hop['repeat']} interleaved rounds "
                  "(median µs/call, min–max)", f"  {'variant':<58}{'µs/call':>9}{'min–max':>16}{'× raw':>7}"]
        for fig in hop["variants"].values():
            span = f"{fig['min']:.1f}–{fig['max']:.1f}"
            lines.append(f"  {fig['label']:<58}{fig['median']:>9.1f}{span:>16}{fig['vs_raw']:>7.2f}")
    checks = "; ".join(f"{way}: {c['socket_module']}" for way, c in result.get("checks", {}).items())
    if checks:
        lines.append(f"\n  socket checks (inside each process): {checks}")
    for skipped in result.get("not_run", []):
        lines.append(f"  skipped {skipped['what']}: {skipped['why']}")
    for warning in result.get("warnings", []):
        lines.append(f"  warned on import: {warning}")
    return "\n".join(lines)
