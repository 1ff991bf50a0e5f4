"""The bench picture: for each scenario, the legacy way next to the bridged way.

It answers the question of a user deciding whether to migrate: how much faster, and at what CPU
cost, for the shapes of work a legacy app has — one upstream call per request, a 10-call fan-out
per request, a 400-call batch, and (when measured) unchanged ``requests.Session`` code from 32
threads; with the peers section, the gevent way (gunicorn's gevent worker, ``gevent.pool.Pool``)
stands between the legacy and the bridged bar. One column per scenario: speed on top (req/s, or seconds for the batch), CPU per
request below, the bridged bar carrying its speed-up. The targets stay in the terminal table and
the JSON; the picture shows the figures themselves. :func:`scenarios` is the pure part
(tested without matplotlib); :func:`render_chart` draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Bar", "Scenario", "chart_title", "render_chart", "scenarios"]

_LEGACY, _OTHER, _BRIDGED = "#8d8d8d", "#c2c2c2", "#1f6fb2"


@dataclass(frozen=True)
class Bar:
    """One way of doing the work: its speed figure and its CPU per request (ms)."""

    label: str
    speed: float
    cpu_ms: float
    bridged: bool = False


@dataclass(frozen=True)
class Scenario:
    """One shape of work; ``bars[0]`` is the legacy way, the bar with ``bridged`` the migrated one."""

    title: str
    unit: str  # "req/s" (higher is better) or "s" (lower is better)
    bars: tuple[Bar, ...]
    note: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.unit != "s"

    def speedup(self, bar: Bar) -> float:
        """How many times faster ``bar`` is than the legacy bar (> 1 is faster)."""
        legacy = self.bars[0].speed
        if not (legacy > 0 and bar.speed > 0):
            return math.nan
        return bar.speed / legacy if self.higher_is_better else legacy / bar.speed


def _num(data: Any, *keys: str) -> float:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return math.nan
        data = data[key]
    try:
        return float(data)
    except (TypeError, ValueError):
        return math.nan


def _gevent_bar(peers: dict[str, Any], *keys: str, label: str, speed: str, cpu: str) -> tuple[Bar, ...]:
    """The gevent bar from the peers section, when it measured it (else no bar)."""
    figures = peers
    for key in keys:
        figures = figures.get(key, {}) if isinstance(figures, dict) else {}
    if not figures:
        return ()
    return (Bar(label, _num(figures, speed), _num(figures, cpu)),)


_GEVENT_NOTE = "; gevent: the peers section"


def _flask_scenarios(flask: dict[str, Any], peers: dict[str, Any]) -> list[Scenario]:
    routes = flask.get("routes", {})
    cfg = flask.get("config", {})
    where = f"Flask, gunicorn {cfg.get('workers')}×{cfg.get('threads')} threads, upstream {cfg.get('delay_ms', 25):g} ms"

    def bar(key: str, label: str, bridged: bool = False) -> Bar:
        return Bar(label, _num(routes, key, "rps"), _num(routes, key, "cpu_ms_per_req"), bridged)

    def gevent(key: str, label: str) -> tuple[Bar, ...]:
        return _gevent_bar(peers, "flask", "runs", key, label=label, speed="rps", cpu="cpu_ms_per_req")

    out = []
    if "a_sync_requests" in routes:
        best = max(("c_async_loopbridge", "d_sync_bridge_http"), key=lambda k: _num(routes, k, "rps") if k in routes else -1)
        if best in routes:
            label = "bridge.http.get" if best == "d_sync_bridge_http" else "async view +\nLoopBridge"
            green = gevent("gevent_a", "gevent worker\n+ requests")
            out.append(Scenario("One upstream call per request", "req/s",
                                (bar("a_sync_requests", "requests"), *green, bar(best, label, True)),
                                where + (_GEVENT_NOTE if green else "")))
    if "fan_seq" in routes and "fan_map" in routes:
        green = gevent("gevent_fan_seq", "gevent worker,\none by one")
        out.append(Scenario("10-call fan-out per request", "req/s",
                            (bar("fan_seq", "requests,\none by one"), *green, bar("fan_map", "bridge.http.map", True)),
                            where + (_GEVENT_NOTE if green else "")))
    return out


def _batch_scenario(fanout: dict[str, Any], peers: dict[str, Any]) -> Scenario | None:
    if "params" not in fanout:
        return None
    p = fanout["params"]

    def bar(key: str, label: str, bridged: bool = False) -> Bar:
        return Bar(label, _num(fanout, key, "median_s"), _num(fanout, key, "cpu_ms_per_req"), bridged)

    note = f"one batch of {p['n']} GETs at {p['latency_ms']:g} ms, concurrency {p['concurrency']}"
    if fanout.get("serial", {}).get("extrapolated"):
        note += f"; the loop timed on {fanout['serial']['measured_on']} URLs"
    green = _gevent_bar(peers, "batch", "ways", "gevent", label=f"gevent Pool({p['concurrency']})\n+ requests",
                        speed="median_s", cpu="cpu_ms_per_req")
    return Scenario(f"A {p['n']}-call batch", "s",
                    (bar("serial", "requests loop"), bar("threads", f"ThreadPool({p['pool_threads']})\n+ requests"),
                     *green, bar("bridge", "bridge.http.map", True)), note + (_GEVENT_NOTE if green else ""))


def _session_scenario(session: dict[str, Any]) -> Scenario | None:
    variants = session.get("variants")
    if not variants:
        return None
    p = session["params"]

    def bar(key: str, label: str, bridged: bool = False) -> Bar:
        return Bar(label, _num(variants, key, "rps"), _num(variants, key, "cpu_ms_per_req"), bridged)

    return Scenario(f"requests.Session code, {p['threads']} threads", "req/s",
                    (bar("stock", "HTTPAdapter"), bar("adapter", "LoopBridgeAdapter\nmounted", True)),
                    f"each thread loops session.get, upstream {p['latency_ms']:g} ms")


def _session_fan_scenario(session: dict[str, Any]) -> Scenario | None:
    """The fan-out part of the session section, at its first thread count."""
    parts = (session.get("fanout") or {}).get("by_threads")
    if not parts:
        return None
    part, calls = parts[0], session["fanout"]["calls"]

    def bar(key: str, label: str, bridged: bool = False) -> Bar:
        return Bar(label, _num(part, "variants", key, "rps"), _num(part, "variants", key, "cpu_ms_per_req"), bridged)

    return Scenario(f"A Session's {calls} calls, {part['threads']} threads", "req/s",
                    (bar("seq", "session.get\none by one"), bar("map", "map(urls,\nsession=)", True)),
                    f"per app request of {calls} calls, upstream {session['fanout']['latency_ms']:g} ms")


def scenarios(result: dict[str, Any]) -> list[Scenario]:
    """The scenarios a result has figures for, in the order a migration meets them."""
    sections = result.get("sections", {})
    peers = sections.get("peers", {})
    out = _flask_scenarios(sections.get("flask", {}), peers)
    session = sections.get("session", {})
    for scenario in (_batch_scenario(sections.get("fanout", {}), peers), _session_scenario(session),
                     _session_fan_scenario(session)):
        if scenario is not None:
            out.append(scenario)
    return [s for s in out if all(not math.isnan(b.speed) for b in s.bars)]


def chart_title(result: dict[str, Any]) -> str:
    """Mode, load source and machine, as the chart's title says them."""
    m = result.get("machine", {})
    load = result.get("sections", {}).get("flask", {}).get("load")
    mode = "--quick (small samples)" if result.get("quick") else "full run"
    system = str(m.get("platform", "?")).split("-with-")[0]
    where = (f"{m.get('cpus')} CPUs, {m.get('machine')}, {system}, "
             f"{m.get('implementation', 'Python')} {m.get('python')}")
    if load is not None:
        where = f"Flask load: {'wrk' if load == 'wrk' else 'the built-in load generator'} · {where}"
    return f"Should I migrate? Legacy (grey) vs bridged (blue), one run — {mode}\n{where}"


def _label_bars(ax: Any, rects: Any, texts: list[str]) -> None:
    for rect, text in zip(rects, texts):
        ax.annotate(text, (rect.get_x() + rect.get_width() / 2, rect.get_height()), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8)


def _speed_text(scenario: Scenario, bar: Bar) -> str:
    value = f"{bar.speed:.3g} s" if scenario.unit == "s" else f"{bar.speed:,.0f} req/s"
    if bar is scenario.bars[0]:
        return value
    up = scenario.speedup(bar)
    if math.isnan(up):
        return value
    if up >= 1.5:
        return f"{value}\n{up:.1f}× faster"
    return f"{value}\n{up:.2f}× {'faster' if up >= 1 else '(slower)'}"


def _cpu_text(scenario: Scenario, bar: Bar) -> str:
    legacy = scenario.bars[0].cpu_ms
    value = f"{bar.cpu_ms:.2f} ms"
    if bar is scenario.bars[0] or not legacy > 0 or math.isnan(bar.cpu_ms):
        return value
    return f"{value}\n{bar.cpu_ms / legacy:.2f}× the CPU"


def _draw(ax_speed: Any, ax_cpu: Any, scenario: Scenario) -> None:
    names = [b.label for b in scenario.bars]
    colors = [_BRIDGED if b.bridged else (_LEGACY if i == 0 else _OTHER) for i, b in enumerate(scenario.bars)]
    rects = ax_speed.bar(names, [b.speed for b in scenario.bars], color=colors)
    _label_bars(ax_speed, rects, [_speed_text(scenario, b) for b in scenario.bars])
    ax_speed.set_title(scenario.title, fontsize=10, fontweight="bold")
    ax_speed.set_ylabel("req/s (higher is better)" if scenario.higher_is_better else "seconds (lower is better)")
    ax_speed.margins(y=0.3)
    rects = ax_cpu.bar(names, [b.cpu_ms for b in scenario.bars], color=colors)
    _label_bars(ax_cpu, rects, [_cpu_text(scenario, b) for b in scenario.bars])
    ax_cpu.set_ylabel("CPU ms per request (lower is better)")
    ax_cpu.margins(y=0.3)
    ax_cpu.set_xlabel(scenario.note, fontsize=7, wrap=True)
    for ax in (ax_speed, ax_cpu):
        ax.tick_params(axis="x", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)


def render_chart(result: dict[str, Any], path: Path) -> Path | None:
    """Draw the scenarios into a PNG at ``path``; ``None`` when no scenario was measured.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'loopbridge[bench]'``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = scenarios(result)
    if not found:
        return None
    widths = [max(2, len(s.bars)) for s in found]  # a column per bar's worth of room: labels stay apart
    fig, axes = plt.subplots(2, len(found), figsize=(1.75 * sum(widths) + 1.0, 7.6), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    for col, scenario in enumerate(found):
        _draw(axes[0][col], axes[1][col], scenario)
    fig.suptitle(chart_title(result), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
