"""The live half from a Prometheus server: every worker on every host, over a time window.

``loopbridge report PATH --prometheus http://prometheus:9090 --window 1h --label job=web``
reads the per-endpoint metrics the Flask extension records (``LOOPBRIDGE_PROMETHEUS``,
docs/deploying.md) through Prometheus' HTTP API and turns them into the stats shape the report
joins (``endpoints`` with requests, total_ms, bridged_ms, bridged_calls, stalls, blocked_ms).

Counts are exact, not extrapolated: for every series (a host's summed workers, per endpoint),
the raw samples inside the window are read, each rise is added, a drop (a restarted host) adds
the new value, and the series' value at the window's start (0 if it did not exist yet) is the
base. ``increase()`` would extrapolate to the window's edges and give 99.6 requests for 100.
The processes and hosts are those of ``loopbridge_process`` seen in the window.

Only the standard library (``urllib``): the report never imports the runtime.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from ._live import LiveError

__all__ = ["load_prometheus", "parse_labels", "parse_window"]

#: report field -> (counter-like series, factor to the report's unit)
_FIELDS = {
    "requests": ("loopbridge_request_duration_seconds_count", 1.0),
    "total_ms": ("loopbridge_request_duration_seconds_sum", 1000.0),
    "bridged_ms": ("loopbridge_request_bridged_seconds_total", 1000.0),
    "bridged_calls": ("loopbridge_request_bridged_calls_total", 1.0),
    "stalls": ("loopbridge_request_stalls_total", 1.0),
    "blocked_ms": ("loopbridge_request_blocked_seconds_total", 1000.0),
}
_ALWAYS = ("requests", "total_ms", "bridged_ms", "stalls")
_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LABEL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(=~|!=|=)(.*)$")


def parse_window(text: str) -> float:
    """Seconds of a window such as ``90s``, ``30m``, ``1h``, ``2d`` (a bare number is seconds)."""
    match = _WINDOW.match(text or "")
    if match is None or float(match.group(1)) <= 0:
        raise LiveError(f"--window {text!r}: give a duration such as 15m, 1h or 2d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_labels(items: Sequence[str]) -> str:
    """PromQL matchers from ``job=web``, ``instance=~"web-.*"``, ``env!=dev`` (values quoted)."""
    matchers = []
    for item in items:
        match = _LABEL.match(item.strip())
        if match is None:
            raise LiveError(f"--label {item!r}: give NAME=VALUE, NAME!=VALUE or NAME=~REGEX (e.g. job=web)")
        name, op, value = match.groups()
        value = value.strip().strip('"')
        matchers.append(f'{name}{op}"{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"')
    return ",".join(matchers)


def _query(base: str, promql: str, at: float, timeout: float) -> list[dict[str, Any]]:
    url = base.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = json.loads(resp.read(50_000_000))
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace")
        raise LiveError(f"Prometheus at {base} refused the query {promql!r}: HTTP {exc.code} {detail}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise LiveError(f"cannot query Prometheus at {base}: {exc}; give the server's base URL "
                        "(http://host:9090), the one its web page is on") from exc
    if not isinstance(body, dict) or body.get("status") != "success":
        raise LiveError(f"Prometheus at {base} answered {str(body)[:300]} to {promql!r}")
    result = body.get("data", {}).get("result", [])
    return result if isinstance(result, list) else []


def _key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in metric.items() if k != "__name__"))


def _growth(samples: list[list[Any]], base: float) -> float:
    """What a counter grew by through ``samples`` from ``base``, a drop counted as a restart."""
    total, last = 0.0, base
    for _ts, raw in samples:
        value = float(raw)
        total += value - last if value >= last else value
        last = value
    return total


def _series_growth(base_url: str, series: str, matchers: str, start: float, end: float,
                   timeout: float) -> dict[str, float]:
    """endpoint -> growth of ``series`` in (start, end], summed over every instance."""
    selector = f"{series}{{{matchers}}}"
    window = max(int(round(end - start)), 1)
    ranged = _query(base_url, f"{selector}[{window}s]", end, timeout)
    before = {_key(r["metric"]): float(r["value"][1]) for r in _query(base_url, selector, start, timeout)}
    out: dict[str, float] = {}
    for row in ranged:
        metric = row.get("metric", {})
        endpoint = metric.get("endpoint")
        if endpoint is None:
            continue
        grown = _growth(row.get("values", []), before.get(_key(metric), 0.0))
        out[endpoint] = out.get(endpoint, 0.0) + grown
    return out


def _fleet(base_url: str, matchers: str, start: float, end: float, timeout: float) -> dict[str, Any]:
    window = max(int(round(end - start)), 1)
    rows = _query(base_url, f"max_over_time(loopbridge_process{{{matchers}}}[{window}s])", end, timeout)
    processes = {(r["metric"].get("instance"), r["metric"].get("host"), r["metric"].get("pid")) for r in rows}
    return {"processes": len(processes), "hosts": len({p[1] for p in processes}),
            "instances": len({p[0] for p in processes})}


def load_prometheus(base_url: str, window_s: float, labels: Sequence[str] = (), at: float | None = None,
                    timeout: float = 30.0) -> dict[str, Any]:
    """The stats shape (``endpoints`` and ``fleet``) from a Prometheus server, for the window
    of ``window_s`` seconds ending at ``at`` (default: now).

    Raises:
        LiveError: the server cannot be reached or refuses a query, or a label is malformed.
    """
    if not base_url.startswith(("http://", "https://")):
        raise LiveError(f"--prometheus {base_url!r}: give the server's http(s):// base URL")
    if window_s <= 0:
        raise LiveError(f"the window must be positive seconds, got {window_s!r}")
    matchers = parse_labels(labels)
    end = time.time() if at is None else at
    start = end - window_s
    endpoints: dict[str, dict[str, float]] = {}
    for field, (series, factor) in _FIELDS.items():
        for endpoint, grown in _series_growth(base_url, series, matchers, start, end, timeout).items():
            endpoints.setdefault(endpoint, {})[field] = grown * factor
    for figures in endpoints.values():
        for field in _ALWAYS:
            figures.setdefault(field, 0.0)
        for field in ("requests", "bridged_calls", "stalls"):
            if field in figures:
                figures[field] = int(round(figures[field]))
    fleet = _fleet(base_url, matchers, start, end, timeout)
    fleet.update(window_s=window_s, end=end, labels=list(labels))
    return {"endpoints": endpoints, "fleet": fleet}
