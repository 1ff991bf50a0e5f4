"""The ``loopbridge report`` command.

Exit status: 0 the report was written (and ``--fail-under`` / ``--fail-on-drop`` were met),
1 the share of IO call sites on the loop is below ``--fail-under`` or lower than in the
``--compare`` report with ``--fail-on-drop``, 2 usage error, unreadable stats or earlier report.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from loopbridge.lint import ConfigError, LintConfig, load_config

from . import FORMATS, LiveError, build_report, load_stats, render
from ._compare import CompareError, compare, load_previous

__all__ = ["report_command"]


@click.command("report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--stats", "stats_sources", metavar="URL|FILE", multiple=True,
              help="The app's stats endpoint (http://host/_loopbridge/stats) or its saved JSON; repeat it "
                   "to merge several workers' or hosts' answers (one process read twice counts once).")
@click.option("--prometheus", "prometheus_url", metavar="URL",
              help="Read the live figures of every worker on every host from this Prometheus server "
                   "(http://host:9090) instead; see docs/deploying.md.")
@click.option("--window", default="1h", show_default=True, metavar="DURATION",
              help="With --prometheus: the time window ending now (90s, 30m, 1h, 2d).")
@click.option("--label", "labels", multiple=True, metavar="NAME=VALUE",
              help="With --prometheus: keep only series with this label (job=web, instance=~'web-.*'); repeatable.")
@click.option("--stats-timeout", type=click.FloatRange(0, 3600, min_open=True), default=10.0, show_default=True,
              metavar="SECONDS", help="The most the whole read of one --stats URL may take.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text table, JSON (schema loopbridge-report/1) or a self-contained HTML page.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False),
              help="Write the report to this file instead of standard output.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PERCENT",
              help="Exit 1 when the share of IO call sites on the loop is below PERCENT.")
@click.option("--compare", "previous_path", type=click.Path(dir_okay=False),
              metavar="PREVIOUS.json", help="Show what moved since this earlier JSON report.")
@click.option("--fail-on-drop", is_flag=True,
              help="With --compare: exit 1 when the share on the loop is lower than before.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="pyproject.toml to read [tool.loopbridge.lint] from (default: nearest).")
@click.option("--isolated", is_flag=True, help="Ignore configuration files.")
def report_command(paths: tuple[str, ...], stats_sources: tuple[str, ...], stats_timeout: float,
                   prometheus_url: str | None, window: str, labels: tuple[str, ...], fmt: str,
                   output: str | None, fail_under: float | None, previous_path: str | None,
                   fail_on_drop: bool, config_path: str | None, isolated: bool) -> None:
    """Show how far the migration has come, per route and per module (default path: .).

    Static analysis of the source (never imported), plus live figures per endpoint when
    --stats is given. See docs/report.md for the JSON schema.
    """
    if fail_on_drop and not previous_path:
        _bad_input("--fail-on-drop needs --compare PREVIOUS.json")
    if prometheus_url and stats_sources:
        _bad_input("--stats and --prometheus are two sources of the same figures: give one of them")
    if labels and not prometheus_url:
        _bad_input("--label filters Prometheus series: it needs --prometheus URL")
    if output and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        _bad_input(f"-o {output}: the folder {os.path.dirname(os.path.abspath(output))} does not exist; "
                   "create it first or write elsewhere")
    try:
        config = LintConfig(root=os.getcwd()) if isolated else load_config(config_path)
        stats, source = _live_stats(stats_sources, stats_timeout, prometheus_url, window, labels)
        previous = load_previous(previous_path) if previous_path else None
        report = build_report(list(paths) or ["."], config, stats, source)
    except (ConfigError, FileNotFoundError, LiveError, CompareError) as exc:
        _bad_input(str(exc))
    if previous is not None and previous_path:
        report.compare = compare(report, previous, os.path.basename(previous_path))
    text = render(report, fmt)
    if output:
        try:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            _bad_input(f"cannot write the report to {output}: {exc.strerror or exc}")
    else:
        click.echo(text, nl=False)
    share = report.headline["share_on_loop"]
    if fail_on_drop and report.compare and report.compare["share_dropped"]:
        before = report.compare["headline"]["share_on_loop"]["before"] * 100
        click.echo(f"loopbridge report: {(share or 0.0) * 100:.1f} % of IO call sites on the "
                   f"loop, down from {before:.1f} % in {report.compare['source']}", err=True)
        sys.exit(1)
    if fail_under is not None:
        got = (share or 0.0) * 100
        if got < fail_under:
            click.echo(f"loopbridge report: {got:.1f} % of IO call sites on the loop, below "
                       f"--fail-under {fail_under:g} %", err=True)
            sys.exit(1)


def _bad_input(message: str) -> NoReturn:
    """One line on standard error and exit 2: exit 1 means a score below the bar, never a crash."""
    click.echo("loopbridge report: error: " + " ".join(message.split()), err=True)
    sys.exit(2)


def _live_stats(sources: tuple[str, ...], timeout: float, prometheus_url: str | None, window: str,
                labels: tuple[str, ...]) -> tuple[dict[str, Any] | None, str]:
    """The live figures and the source to name: one stats answer, several merged, or Prometheus."""
    if prometheus_url:
        from ._prometheus import load_prometheus, parse_window

        return load_prometheus(prometheus_url, parse_window(window), labels), prometheus_url
    if not sources:
        return None, ""
    if len(sources) == 1:
        return load_stats(sources[0], timeout), sources[0]
    from ._merge import merge_stats

    return merge_stats([(source, load_stats(source, timeout)) for source in sources]), ", ".join(dict.fromkeys(sources))
