"""The live half: the app's stats (URL or saved JSON) joined to the routes by endpoint.

The stats endpoint of the Flask extension (``LOOPBRIDGE_STATS_URL``) serves process-wide
figures today. Per-endpoint figures are read from an ``endpoints`` object when it is there::

    "endpoints": {
        "api.check_all": {"requests": 12, "total_ms": 3456.7, "bridged_ms": 120.5, "stalls": 0},
        ...
    }

keyed by Flask endpoint name (``request.url_rule.endpoint``), with ``requests`` (count of
requests served), ``total_ms`` (their summed wall time), ``bridged_ms`` (the summed time those
requests spent waiting in bridged calls: ``bridge.run``, ``bridge.http.*``, async views) and
``stalls`` (watchdog stalls whose blocking code ran for one of its requests); ``bridged_calls`` (how many
bridged calls they made) is shown when present. The Flask extension serves exactly this when
``LOOPBRIDGE_STATS_URL`` is set. A list of objects with an ``endpoint`` field is accepted too.
Without them the report says so and ranks statically.

Fetching uses only the standard library (``http.client``): the report never imports the runtime.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
import threading
import time
import urllib.parse
from typing import Any

from ._merge import fleet_note, fleet_of
from ._model import LiveEndpoint, LiveInfo, RouteReport, SampledTime

__all__ = ["REQUIRED_FIELDS", "LiveError", "apply_live", "load_stats"]

#: The per-endpoint fields the report needs from the stats endpoint.
REQUIRED_FIELDS = ("requests", "total_ms", "bridged_ms", "stalls")
_MAX_BYTES = 20_000_000
#: the Flask endpoint of the extension's stats view (counted by versions before 0.2)
STATS_ENDPOINT = "loopbridge_stats"
_PROCESS_KEYS = ("pid", "state", "inflight", "queued", "max_inflight", "watchdog_ms", "lag")


class LiveError(ValueError):
    """The stats could not be read; the message names the source and what to check."""


def load_stats(source: str, timeout: float = 10.0) -> dict[str, Any]:
    """Read the stats JSON from an ``http(s)://`` URL or a file.

    ``timeout`` bounds the whole read of a URL (connect, headers and body together), so a
    server that drips its answer a byte at a time cannot hold the command.

    Raises:
        LiveError: unreachable URL, an answer that is not HTTP or not complete in time,
            unreadable file, or not a JSON object (also JSON nested too deep, or a number
            too long to read).
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
        raise ValueError(f"timeout must be a number of seconds in (0, 3600], got {timeout!r}")
    if source.startswith(("http://", "https://")):
        data = _fetch(source, timeout)
    elif "://" in source:
        raise LiveError(f"--stats {source!r}: only http:// and https:// URLs or a file path")
    else:
        try:
            with open(source, "rb") as handle:
                data = handle.read(_MAX_BYTES + 1)
        except OSError as exc:
            raise LiveError(f"cannot read the stats file {source}: "
                            f"{exc.strerror or exc}") from exc
    if len(data) > _MAX_BYTES:
        raise LiveError(f"the stats from {source} are larger than {_MAX_BYTES} bytes")
    try:
        parsed = json.loads(data)
    except RecursionError as exc:
        raise LiveError(f"the stats from {source} are JSON nested too deep to read; save the "
                        "stats endpoint's answer as it is") from exc
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, and ints past Python's digit limit
        reason = " ".join(str(exc).split())
        raise LiveError(f"the stats from {source} are not JSON the report can read ({reason}); "
                        "save the stats endpoint's answer as it is") from exc
    if not isinstance(parsed, dict):
        raise LiveError(f"the stats from {source} are not a JSON object")
    return parsed


def _fetch(url: str, timeout: float) -> bytes:
    """GET ``url`` within ``timeout`` seconds in all: a timer shuts the socket at the deadline."""
    parts = urllib.parse.urlsplit(url)
    hint = "; is the app running with LOOPBRIDGE_STATS_URL set to that path?"
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    deadline = time.monotonic() + timeout
    try:
        conn = conn_class(parts.hostname or "", parts.port, timeout=timeout)
    except (ValueError, http.client.HTTPException) as exc:
        raise LiveError(f"cannot read the stats from {url}: {exc}{hint}") from exc
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(timeout, cut)
    timer.daemon = True
    timer.start()
    try:
        conn.connect()
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else "") or "/",
                     headers={"Accept": "application/json"})
        resp = conn.getresponse()
        chunks: list[bytes] = []
        size, complete = 0, False
        while size <= _MAX_BYTES and time.monotonic() < deadline:
            chunk = resp.read1(65536)
            if not chunk:
                complete = True
                break
            chunks.append(chunk)
            size += len(chunk)
        if expired.is_set() or not (complete or size > _MAX_BYTES):
            raise TimeoutError("no complete answer")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set() or time.monotonic() >= deadline:
            raise LiveError(f"cannot read the stats from {url}: no complete answer within {timeout:g} s "
                            "(raise --stats-timeout if the app is slow to answer)") from exc
        what = "the answer is not HTTP" if isinstance(exc, http.client.HTTPException) else str(exc)
        raise LiveError(f"cannot read the stats from {url}: {' '.join(what.split())}{hint}") from exc
    finally:
        timer.cancel()
        conn.close()
    if resp.status != 200:
        raise LiveError(f"cannot read the stats from {url}: HTTP {resp.status} {resp.reason}{hint}")
    return b"".join(chunks)


def _endpoints(stats: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    raw = stats.get("endpoints")
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items() if isinstance(v, dict)}
    if isinstance(raw, list):
        return {str(v["endpoint"]): v for v in raw if isinstance(v, dict) and "endpoint" in v}
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int of hundreds of digits: no figure a process could have counted
        return None
    return number if math.isfinite(number) else None


def _shallow(value: Any, depth: int = 3) -> Any:
    """A process-wide figure as shown: scalars as they are, containers cut below ``depth``."""
    if isinstance(value, dict):
        return {str(k): _shallow(v, depth - 1) for k, v in value.items()} if depth > 0 else "…"
    if isinstance(value, list):
        return [_shallow(v, depth - 1) for v in value] if depth > 0 else "…"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return None
    return value


_SAMPLE_COUNTS = ("samples", "blocked", "fanout", "bridged", "running")


def _sampled(raw: Any) -> dict[str, SampledTime]:
    """The ``"blocked"`` figures of the stats (the extension's sampler), by endpoint; what does
    not have their shape is left out."""
    if not isinstance(raw, dict) or not isinstance(raw.get("endpoints"), dict):
        return {}
    interval = _number(raw.get("interval_ms"))
    if interval is None or not 0 < interval <= 60_000:
        return {}
    out: dict[str, SampledTime] = {}
    for name, row in raw["endpoints"].items():
        if not isinstance(row, dict):
            continue
        counts = [_number(row.get(key, 0)) for key in _SAMPLE_COUNTS]
        if any(c is None or c < 0 or c > 1e12 for c in counts):
            continue
        where = [_place(w, ("site", "function", "kind", "primitive")) for w in _list(row.get("where"))]
        fanout = [_place(w, ("site", "function", "worker")) for w in _list(row.get("fanout_where"))]
        samples, blocked, fanned, bridged, running = (int(c or 0) for c in counts)
        out[str(name)] = SampledTime(samples, blocked, fanned, bridged, running, interval,
                                     [w for w in where if w], [w for w in fanout if w])
    return out


def _list(value: Any) -> list[Any]:
    return value[:50] if isinstance(value, list) else []


def _place(raw: Any, text_keys: tuple[str, ...]) -> dict[str, Any] | None:
    """One sampled place, its text fields as short strings and its counts as ints."""
    if not isinstance(raw, dict):
        return None
    samples = _number(raw.get("samples"))
    if samples is None or not 0 < samples <= 1e12 or not isinstance(raw.get("site"), str):
        return None
    place: dict[str, Any] = {key: str(raw.get(key) or "")[:300] for key in text_keys}
    place["samples"] = int(samples)
    if "via" in raw:
        place["via"] = [{"site": str(v.get("site") or "")[:300], "function": str(v.get("function") or "")[:300],
                         "through_library": v.get("through_library") is True}
                        for v in _list(raw.get("via"))[:4] if isinstance(v, dict)]
    if "max_parallel" in raw:
        parallel = _number(raw.get("max_parallel"))
        place["max_parallel"] = int(parallel) if parallel is not None and 0 <= parallel < 1e6 else 0
    return place


def apply_live(routes: list[RouteReport], stats: dict[str, Any], source: str) -> LiveInfo:
    """Attach per-endpoint figures to ``routes``; say clearly what is missing."""
    process = {key: _shallow(stats[key]) for key in _PROCESS_KEYS if key in stats}
    fleet = fleet_of(stats)
    if fleet is not None:
        process["fleet"] = fleet
    shown = source if "://" in source else os.path.basename(source)
    endpoints = _endpoints(stats)
    if endpoints is None:
        return LiveInfo(shown, False, (
            "the stats carry no per-endpoint figures (no 'endpoints' object), so the ranking "
            "uses static counts only; per-endpoint data needs, for each Flask endpoint: "
            + ", ".join(REQUIRED_FIELDS) + " (see docs/report.md)"), process)
    by_name = {r.endpoint: r for r in routes}
    sampled = _sampled(stats.get("blocked"))
    missing: set[str] = set()
    unmatched: list[str] = []
    for name, figures in sorted(endpoints.items()):
        values = {f: _number(figures.get(f)) for f in REQUIRED_FIELDS}
        absent = [f for f, v in values.items() if v is None]
        if absent:
            missing.update(absent)
            continue
        route = by_name.get(name)
        if route is None:
            if name != STATS_ENDPOINT:  # the extension's own endpoint is no route of the app
                unmatched.append(name)
            continue
        calls = _number(figures.get("bridged_calls"))
        route.live = LiveEndpoint(int(values["requests"] or 0), values["total_ms"] or 0.0,
                                  values["bridged_ms"] or 0.0, int(values["stalls"] or 0),
                                  None if calls is None else int(calls), sampled.get(name))
    note = f"per-endpoint figures for {sum(1 for r in routes if r.live)} of {len(routes)} routes"
    if sampled:
        note += (f"; where their time goes sampled every {next(iter(sampled.values())).interval_ms:g} ms "
                 f"for {sum(1 for r in routes if r.live and r.live.sampled)}")
    else:
        note += ("; no sampled figures ('blocked'): routes without static findings stay unknown "
                 "(LOOPBRIDGE_STATS_SAMPLE_MS, see docs/report.md)")
    if missing:
        note += ("; some endpoints lack " + ", ".join(sorted(missing))
                 + " and were left out (see docs/report.md)")
    if fleet is not None:
        note += "; " + fleet_note(fleet)
    return LiveInfo(shown, True, note, process, unmatched,
                    {name: sampled[name] for name in unmatched if name in sampled})
