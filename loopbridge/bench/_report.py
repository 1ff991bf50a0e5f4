"""Turn bench results into the targets table, terminal tables and a PNG chart."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["QUICK_BUDGET_S", "TARGETS", "Target", "evaluate_targets", "render_tables"]


def _dig(data: Any, *keys: str | int) -> float:
    for key in keys:
        if isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return math.nan
    try:
        return float(data)
    except (TypeError, ValueError):
        return math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


@dataclass(frozen=True)
class Target:
    """One figure with its goal: ``value(sections) <= goal`` or ``>= goal``."""

    key: str
    label: str
    goal: float
    at_most: bool
    value: Callable[[dict[str, Any]], float]

    def check(self, sections: dict[str, Any]) -> dict[str, Any]:
        value = self.value(sections)
        if math.isnan(value):
            status = "not measured"
        else:
            status = "holds" if (value <= self.goal if self.at_most else value >= self.goal) else "missed"
        sign = "≤" if self.at_most else "≥"
        return {"key": self.key, "label": self.label, "value": value, "target": f"{sign} {self.goal:g}", "status": status}


def _rt(sections: dict[str, Any], variant: str) -> float:
    return _dig(sections, "roundtrip", "callers", "1", variant, "us_per_call")


TARGETS: tuple[Target, ...] = (
    Target("run_vs_raw", "run round trip vs raw run_coroutine_threadsafe, 1 caller (×)", 1.0, True,
           lambda s: _ratio(_rt(s, "run"), _rt(s, "raw"))),
    Target("run_vs_asgiref", "run vs asgiref default async_to_sync (× faster)", 4.0, False,
           lambda s: _ratio(_rt(s, "asgiref_default"), _rt(s, "run"))),
    Target("watchdog_overhead", "watchdog cost on the round trip (on ÷ off)", 1.03, True,
           lambda s: _dig(s, "watchdog", "roundtrip", "ratio")),
    Target("fanout_vs_limit", "bridge.http.map fan-out vs physical limit (×)", 1.3, True,
           lambda s: _dig(s, "fanout", "ratios", "map_vs_limit")),
    Target("map_vs_aiohttp", "bridge.http.map vs bare aiohttp, same fan-out, same run (×)", 1.05, True,
           lambda s: _dig(s, "fanout", "ratios", "bridge_vs_aiohttp_floor")),
    Target("fanout_vs_threadpool", "bridge.http.map vs ThreadPool(32)+requests (× faster)", 3.5, False,
           lambda s: _dig(s, "fanout", "ratios", "threadpool_vs_map")),
    Target("flask_1call_rps", "Flask 1-call: LoopBridge vs sync requests, req/s (×)", 1.1, False,
           lambda s: _dig(s, "flask", "ratios", "one_call_bridge_vs_sync_rps")),
    Target("flask_1call_cpu", "Flask 1-call: LoopBridge vs sync requests, CPU/req (×)", 0.8, True,
           lambda s: _dig(s, "flask", "ratios", "one_call_bridge_vs_sync_cpu")),
    Target("flask_1call_ceiling", "Flask 1-call vs ceiling (threads ÷ latency)", 0.85, False,
           lambda s: _dig(s, "flask", "ratios", "one_call_bridge_vs_ceiling")),
    Target("flask_fan_vs_seq", "Flask 10-call fan-out: map vs sequential, req/s (×)", 5.0, False,
           lambda s: _dig(s, "flask", "ratios", "fan_map_vs_seq_rps")),
    Target("flask_fan_vs_stock", "Flask 10-call fan-out: map vs stock async + gather (×)", 2.0, False,
           lambda s: _dig(s, "flask", "ratios", "fan_map_vs_stock_gather_rps")),
    Target("flask_prometheus_cpu", "Flask 1-call: per-route Prometheus figures' CPU, share of a request's", 0.02, True,
           lambda s: _dig(s, "flask", "ratios", "prometheus_cpu_share")),
    Target("sampler_overhead", "request sampler cost, Flask 1-call with stats on: sampler CPU ÷ worker CPU", 0.02, True,
           lambda s: _dig(s, "sampler", "ratios", "sampler_cpu_share")),
    Target("session_rps", "requests.Session, 32 threads: LoopBridgeAdapter vs HTTPAdapter, req/s (×)", 0.97, False,
           lambda s: _dig(s, "session", "ratios", "adapter_vs_stock_rps")),
    Target("session_cpu", "requests.Session, 32 threads: LoopBridgeAdapter vs HTTPAdapter, CPU/req (×)", 1.0, True,
           lambda s: _dig(s, "session", "ratios", "adapter_vs_stock_cpu")),
    Target("session_map", "requests.Session, 10 calls/request, 4 threads: map(session=) vs in sequence, req/s (×)",
           5.0, False, lambda s: _dig(s, "session", "ratios", "map_session_vs_seq_rps")),
    Target("lint_vs_flake8", "lint CLI vs flake8 + flake8-async CLI, lines/s (×)", 5.0, False,
           lambda s: _dig(s, "lint", "ratios", "cli_vs_flake8_async_lines_per_s")),
    Target("lint_vs_parse", "lint engine time vs ast.parse floor (×)", 2.0, True,
           lambda s: _dig(s, "lint", "ratios", "engine_time_vs_parse_floor")),
)


def evaluate_targets(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """Check every target against the measured sections."""
    return [target.check(sections) for target in TARGETS]


def _fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    lines = [f"\n{title}"]
    for n, row in enumerate(cells):
        lines.append("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _roundtrip_rows(section: dict[str, Any]) -> list[str]:
    from .roundtrip import VARIANTS

    out = []
    for callers, table in section.get("callers", {}).items():
        rows = [[VARIANTS.get(name, name), f["us_per_call"], f"{f['min']:.1f}–{f['max']:.1f}", f"{f['calls_per_s']:.0f}",
                 f["vs_raw"]] for name, f in table.items()]
        out.append(_table(f"Round trip, {callers} caller thread(s) (median µs/call, min–max)",
                          ["variant", "µs/call", "min–max", "calls/s", "× raw"], rows))
    return out


def _flask_rows(section: dict[str, Any]) -> list[str]:
    rows = []
    for fig in section.get("routes", {}).values():
        rows.append([fig["label"], f"{fig['rps']:.0f}", f"{fig['rps_min']:.0f}–{fig['rps_max']:.0f}", fig["p50_ms"],
                     fig["p99_ms"], fig["cpu_ms_per_req"], fig["rss_mib_per_worker"], fig["errors"]])
    cfg = section.get("config", {})
    title = (f"Flask under gunicorn gthread {cfg.get('workers')}×{cfg.get('threads')}, upstream {cfg.get('delay_ms')} ms, "
             f"load: {section.get('load')} (ceiling {section.get('ceiling_rps_1call', 0):.0f} req/s)")
    return [_table(title, ["route", "req/s", "min–max", "p50 ms", "p99 ms", "CPU ms/req", "RSS MiB", "errors"], rows)]


def _generic_rows(name: str, section: dict[str, Any]) -> list[str]:
    rows = [[key, value] for key, value in section.get("ratios", {}).items()]
    return [_table(f"{name}: ratios", ["figure", "value"], rows)] if rows else []


def render_tables(result: dict[str, Any]) -> str:
    """The terminal report: per-section tables, then the targets."""
    m = result.get("machine", {})
    parts = [f"loopbridge bench{' --quick' if result.get('quick') else ''} — Python {m.get('python')}, "
             f"{m.get('cpus')} CPUs, {m.get('platform')}"]
    sections = result.get("sections", {})
    if "roundtrip" in sections:
        parts += _roundtrip_rows(sections["roundtrip"])
    for name in ("watchdog", "fanout", "session", "flask", "sampler", "peers", "lint"):
        section = sections.get(name)
        if section is None:
            continue
        if "skipped" in section:
            parts.append(f"\n{name}: skipped ({section['skipped']})")
        elif name == "fanout" and "params" in section:
            from .fanout import format_fanout_table

            parts.append(format_fanout_table(section))
        elif name == "session" and "variants" in section:
            from .session import format_session_table

            parts.append(format_session_table(section))
        elif name == "flask":
            parts += _flask_rows(section)
        elif name == "peers" and "params" in section:
            from .peers import format_peers_table

            parts.append(format_peers_table(section))
        else:
            parts += _generic_rows(name, section)
    rows = [[t["label"], t["value"], t["target"], t["status"]] for t in result.get("targets", [])]
    parts.append(_table("Targets (ratios from this run)", ["figure", "value", "target", "status"], rows))
    if result.get("total_s") is not None:
        parts.append(f"\n{_took(result)}")
    return "\n".join(parts)


#: what ``--quick`` promises (the help text says it, the report checks it)
QUICK_BUDGET_S = 60.0


def _took(result: dict[str, Any]) -> str:
    """One line: how long the run took, and for ``--quick`` whether it kept its budget."""
    total = float(result["total_s"])
    line = f"the bench took {total:.0f} s"
    if result.get("quick"):
        timings = result.get("timings_s", {})
        if total <= QUICK_BUDGET_S:
            line += f" (--quick promises under {QUICK_BUDGET_S:.0f} s)"
        else:
            slowest = max(timings, key=timings.get) if timings else "?"
            line += (f", over the {QUICK_BUDGET_S:.0f} s --quick promises: the slowest section was {slowest} "
                     f"({timings.get(slowest, math.nan):.0f} s); a busy machine or a missing wrk slows it")
    return line
