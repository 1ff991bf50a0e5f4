"""The ``loopbridge lint`` command (also ``python -m loopbridge.lint``).

Exit status: 0 no findings, 1 findings, 2 usage or internal error. Every error a user can
cause (a bad path, baseline, configuration or output file) is one line on standard error and
exit 2, never a traceback: CI must not read a crash as "findings".
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

import click

from ._baseline import BaselineError, apply_baseline, load_baseline, write_baseline
from ._codes import RULES
from ._config import ConfigError, LintConfig, load_config
from ._engine import LintResult, lint_paths
from ._fileio import write_text
from ._output import FORMATS, render, statistics

__all__ = ["lint_command", "main"]

logger = logging.getLogger(__name__)


class _Failure(Exception):
    """A user-caused error: printed as one line, exit 2."""


def _fail(message: str) -> NoReturn:
    click.echo(f"loopbridge lint: error: {message}", err=True)
    sys.exit(2)


def _os_reason(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _codes(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.replace(" ", ",").split(",") if part.strip())


def _config(config_path: str | None, isolated: bool, select: str | None,
            extend_select: str | None, ignore: str | None) -> LintConfig:
    config = LintConfig(root=os.getcwd()) if isolated else load_config(config_path)
    changes: dict[str, tuple[str, ...]] = {}
    if select:
        changes["select"] = _codes(select)
    if extend_select:
        changes["select"] = changes.get("select", config.select) + _codes(extend_select)
    if ignore:
        changes["ignore"] = config.ignore + _codes(ignore)
    return config.replace(**changes) if changes else config


def _list_rules() -> str:
    return "".join(f"{code}  {rule.name:<32} {rule.summary}\n" for code, rule in RULES.items())


@click.command("lint", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text",
              show_default=True, help="Output format.")
@click.option("--select", help="Comma-separated codes or prefixes to report (default: LB).")
@click.option("--extend-select", help="Codes or prefixes to add to the selection.")
@click.option("--ignore", help="Comma-separated codes or prefixes not to report.")
@click.option("--statistics", "show_statistics", is_flag=True,
              help="Print a count per code after the findings.")
@click.option("--baseline", type=click.Path(dir_okay=False), help="Report only findings "
              "that are not in this baseline file.")
@click.option("--write-baseline", type=click.Path(dir_okay=False),
              help="Record the current findings in this file and exit 0.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="pyproject.toml to read [tool.loopbridge.lint] from (default: nearest).")
@click.option("--isolated", is_flag=True, help="Ignore configuration files.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False),
              help="Write the report to this file instead of standard output.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the summary line.")
@click.option("--list-rules", is_flag=True, help="List every code and exit.")
def lint_command(paths: tuple[str, ...], fmt: str, select: str | None,
                 extend_select: str | None, ignore: str | None, show_statistics: bool,
                 baseline: str | None, write_baseline: str | None, config_path: str | None,
                 isolated: bool, output_file: str | None, exit_zero: bool, quiet: bool,
                 list_rules: bool) -> None:
    """Find blocking calls and forgotten awaits in coroutines (default path: the current dir).

    Pure static analysis: the code is parsed, never imported or run. Calls are followed
    through helper functions and across modules; see docs/lint.md for every code.
    """
    if list_rules:
        click.echo(_list_rules(), nl=False)
        return
    try:
        code = _run(paths, fmt, select, extend_select, ignore, show_statistics, baseline,
                    write_baseline, config_path, isolated, output_file, exit_zero, quiet)
    except _Failure as exc:
        _fail(str(exc))
    except Exception as exc:  # an internal error is exit 2, not a traceback in CI logs
        logger.debug("lint failed", exc_info=True)
        _fail(f"internal error: {type(exc).__name__}: {exc}; please report it")
    sys.exit(code)


def _run(paths: tuple[str, ...], fmt: str, select: str | None, extend_select: str | None,
         ignore: str | None, show_statistics: bool, baseline: str | None,
         write_baseline: str | None, config_path: str | None, isolated: bool,
         output_file: str | None, exit_zero: bool, quiet: bool) -> int:
    try:
        config = _config(config_path, isolated, select, extend_select, ignore)
        result = lint_paths(list(paths) or ["."], config)
    except (ConfigError, FileNotFoundError) as exc:
        raise _Failure(str(exc)) from exc
    if write_baseline:
        try:
            count = write_baseline_file(write_baseline, result, config)
        except OSError as exc:
            raise _Failure(f"cannot write baseline: {_os_reason(exc)}") from exc
        if not quiet:
            click.echo(f"Wrote {count} finding(s) to baseline {write_baseline}.", err=True)
        return 0
    known = 0
    findings = result.findings
    if baseline:
        try:
            findings, known = apply_baseline(findings, load_baseline(baseline), config.root)
        except BaselineError as exc:
            raise _Failure(str(exc)) from exc
    report = render(findings, fmt)
    if show_statistics and fmt == "text":
        report += statistics(findings)
    try:
        _emit(report, output_file)
    except OSError as exc:
        raise _Failure(f"cannot write the report: {_os_reason(exc)}") from exc
    if not quiet:
        _summary(result, len(findings), known)
    return 1 if findings and not exit_zero else 0


def write_baseline_file(path: str, result: LintResult, config: LintConfig) -> int:
    """Write ``result``'s findings as a baseline (a thin wrapper kept for the command)."""
    return write_baseline(path, result.findings, config.root)


def _emit(report: str, output_file: str | None) -> None:
    if output_file:
        write_text(output_file, report)
    elif report:
        click.echo(report, nl=False)


def _summary(result: LintResult, shown: int, known: int) -> None:
    parts = [f"{shown} finding(s) in {result.files} file(s)"]
    if result.suppressed:
        parts.append(f"{result.suppressed} suppressed by noqa")
    if known:
        parts.append(f"{known} in baseline")
    click.echo("loopbridge lint: " + ", ".join(parts) + ".", err=True)


def main(argv: list[str] | None = None) -> None:
    """Run the command as a program (``python -m loopbridge.lint``)."""
    lint_command.main(args=argv, prog_name="loopbridge lint")
