"""The bench command's parts: a real (tiny) round-trip run, target checks, the report."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from loopbridge.bench import TARGETS, evaluate_targets
from loopbridge.bench._report import render_tables
from loopbridge.bench.flask_e2e import FlaskBenchConfig
from loopbridge.bench.loadgen import percentile
from loopbridge.bench.roundtrip import run_roundtrip_bench


@pytest.mark.usefixtures("fresh_loop")
def test_roundtrip_bench_measures_every_variant_against_raw() -> None:
    result = run_roundtrip_bench(calls=40, repeat=1, callers=(1, 2))
    for callers in ("1", "2"):
        table = result["callers"][callers]
        assert set(table) == {"run", "raw", "asgiref_loop_thread", "asgiref_default", "asyncio_run", "handoff"}
        assert table["raw"]["vs_raw"] == pytest.approx(1.0)
        assert all(fig["us_per_call"] > 0 and fig["min"] <= fig["us_per_call"] <= fig["max"] for fig in table.values())


def test_roundtrip_bench_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="calls"):
        run_roundtrip_bench(calls=1)
    with pytest.raises(ValueError, match="unknown variant"):
        run_roundtrip_bench(calls=20, repeat=1, variants=["nope"])


def _fig(us: float, raw: float) -> dict:  # type: ignore[type-arg]
    return {"us_per_call": us, "min": us, "max": us, "calls_per_s": 1e6 / us, "vs_raw": us / raw}


def _sections(run_us: float, raw_us: float) -> dict:  # type: ignore[type-arg]
    table = {"run": _fig(run_us, raw_us), "raw": _fig(raw_us, raw_us), "asgiref_default": _fig(500.0, raw_us)}
    return {"roundtrip": {"callers": {"1": table}}}


def test_targets_hold_miss_or_are_reported_unmeasured() -> None:
    holds = {t["key"]: t for t in evaluate_targets(_sections(40.0, 50.0))}
    assert holds["run_vs_raw"]["status"] == "holds" and holds["run_vs_raw"]["value"] == pytest.approx(0.8)
    assert holds["run_vs_asgiref"]["status"] == "holds"
    missed = {t["key"]: t for t in evaluate_targets(_sections(60.0, 50.0))}
    assert missed["run_vs_raw"]["status"] == "missed"
    assert missed["flask_1call_rps"]["status"] == "not measured" and math.isnan(missed["flask_1call_rps"]["value"])
    assert len(holds) == len(TARGETS)


def test_report_names_every_target() -> None:
    result = {"machine": {"python": "3.11", "cpus": 2}, "sections": _sections(40.0, 50.0)}
    result["targets"] = evaluate_targets(result["sections"])
    text = render_tables(result)
    assert all(target.label in text for target in TARGETS)
    assert "bridge.run (ours)" in text


def test_percentile_and_flask_config_validation() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="unknown route"):
        FlaskBenchConfig(routes=("zzz",))
    assert FlaskBenchConfig(workers=2, threads=4).load_concurrency == 8


def test_bench_command_writes_strict_json(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loopbridge.cli", "bench", "--quick", "--section", "roundtrip", "--no-chart", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "bench.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert data["quick"] is True and "roundtrip" in data["sections"]
    assert "Targets" in out.stdout
