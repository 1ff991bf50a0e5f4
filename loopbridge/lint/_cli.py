"""The ``loopbridge lint`` command (also ``python -m loopbridge.lint``).

Exit status: 0 no findings, 1 findings, 2 usage or internal error. Every error a user can
cause (a bad path, baseline, configuration or output file) is one line on standard error and
exit 2, never a traceback: CI must not read a crash as "findings". With ``--fix`` the status
is about what remains after the fixes.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from ._baseline import (
    BaselineError,
    load_entries,
    match_baseline,
    write_baseline,
    write_entries,
)
from ._codes import RULES
from ._config import ConfigError, LintConfig, load_config
from ._engine import LintResult, lint_paths
from ._fileio import write_text
from ._fixes import Suggestion
from ._model import Finding
from ._output import FORMATS, FORMATS_WITH_FIXES, code_url, render, statistics

__all__ = ["lint_command", "main"]

logger = logging.getLogger(__name__)

_MAX_STALE_SHOWN = 20


class _Failure(Exception):
    """A user-caused error: printed as one line, exit 2."""


@dataclass(frozen=True, slots=True)
class _Options:
    paths: tuple[str, ...]
    fmt: str
    select: str | None
    extend_select: str | None
    ignore: str | None
    show_statistics: bool
    baseline: str | None
    write_baseline: str | None
    prune_baseline: bool
    config_path: str | None
    isolated: bool
    output_file: str | None
    exit_zero: bool
    quiet: bool
    fix: bool
    unsafe_fixes: bool
    diff: bool
    python: str | None
    cache_dir: str | None
    no_libraries: bool


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


def _config(options: _Options) -> LintConfig:
    config = LintConfig(root=os.getcwd()) if options.isolated else load_config(
        options.config_path)
    changes: dict[str, Any] = {}
    if options.select:
        changes["select"] = _codes(options.select)
    if options.extend_select:
        changes["select"] = changes.get("select", config.select) + _codes(options.extend_select)
    if options.ignore:
        changes["ignore"] = config.ignore + _codes(options.ignore)
    if options.python:
        changes["python"] = options.python
    if options.cache_dir:
        changes["cache_dir"] = options.cache_dir
    if options.no_libraries:
        changes["libraries"] = False
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
@click.option("--prune-baseline", is_flag=True, help="With --baseline: rewrite the baseline "
              "without its stale entries (those that match no finding any more).")
@click.option("--fix", is_flag=True, help="Apply the safe fixes in place (see docs/lint.md).")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply the unsafe fixes (with --fix or "
              "--diff); their behaviour can differ, read the diff.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff and change "
              "nothing (exit 1 if there is anything to fix).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="pyproject.toml to read [tool.loopbridge.lint] from (default: nearest).")
@click.option("--isolated", is_flag=True, help="Ignore configuration files.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False),
              help="Write the report to this file instead of standard output.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the summary line.")
@click.option("--python", type=click.Path(), help="The environment whose installed libraries "
              "are read (an interpreter or a virtual environment; default: this interpreter's).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Where to cache what was "
              "learned from libraries (default: $XDG_CACHE_HOME/loopbridge/lint).")
@click.option("--no-libraries", is_flag=True, help="Do not read installed libraries "
              "(no LB203/LB312).")
@click.option("--list-rules", is_flag=True, help="List every code and exit.")
def lint_command(list_rules: bool, **kwargs: Any) -> None:
    """Find blocking calls and forgotten awaits in coroutines (default path: the current dir).

    Pure static analysis: the code is parsed, never imported or run. Calls are followed
    through helper functions and across modules; see docs/lint.md for every code.
    """
    if list_rules:
        click.echo(_list_rules(), nl=False)
        return
    options = _Options(**kwargs)
    try:
        code = _run(options)
    except _Failure as exc:
        _fail(str(exc))
    except Exception as exc:  # an internal error is exit 2, not a traceback in CI logs
        logger.debug("lint failed", exc_info=True)
        _fail(f"internal error: {type(exc).__name__}: {exc}; please report it")
    sys.exit(code)


def _check_combination(options: _Options) -> None:
    if options.prune_baseline and not options.baseline:
        raise _Failure("--prune-baseline needs --baseline FILE (the baseline to prune)")
    if options.unsafe_fixes and not (options.fix or options.diff):
        raise _Failure("--unsafe-fixes needs --fix or --diff")
    if options.fix and options.diff:
        raise _Failure("--fix and --diff exclude each other (--diff changes nothing)")
    if (options.fix or options.diff) and options.write_baseline:
        raise _Failure("--write-baseline cannot be combined with --fix or --diff")


def _run(options: _Options) -> int:
    _check_combination(options)
    try:
        config = _config(options)
        paths = list(options.paths) or ["."]
        result = lint_paths(paths, config, keep_index=options.fix)
    except (ConfigError, FileNotFoundError) as exc:
        raise _Failure(str(exc)) from exc
    fixed = 0
    if options.fix or options.diff:
        try:
            from ._fix_apply import apply_fixes  # libcst is loaded only on this path
        except ImportError as exc:
            raise _Failure(f"--fix and --diff need libcst ({exc}); install it with "
                           "pip install 'libcst>=1.8.4'") from exc
        outcome = apply_fixes(result, config, unsafe=options.unsafe_fixes,
                              write=options.fix)
        if options.diff:
            _emit(outcome.diff, None)
            if not options.quiet:
                click.echo(f"loopbridge lint: {outcome.fixed} fix(es) available in "
                           f"{outcome.files} file(s); nothing was changed.", err=True)
            return 1 if outcome.fixed and not options.exit_zero else 0
        fixed = outcome.fixed
        if fixed:  # only the files the fixes changed are read and indexed again
            changed = {finding.path for finding in outcome.fixed_findings}
            result = lint_paths(paths, config, reuse={
                path: known for path, known in result.index.items() if path not in changed})
    if options.write_baseline:
        try:
            count = write_baseline(options.write_baseline, result.findings, config.root)
        except OSError as exc:
            raise _Failure(f"cannot write baseline: {_os_reason(exc)}") from exc
        if not options.quiet:
            click.echo(f"Wrote {count} finding(s) to baseline {options.write_baseline}.",
                       err=True)
        return 0
    findings, known, stale = _apply_baseline(options, result, config)
    report = render(findings, options.fmt, _suggestions(options, findings, result))
    if options.show_statistics and options.fmt == "text":
        report += statistics(findings)
    try:
        _emit(report, options.output_file)
    except OSError as exc:
        raise _Failure(f"cannot write the report: {_os_reason(exc)}") from exc
    if not options.quiet:
        _summary(result, len(findings), known, stale, fixed, options)
        if options.fmt == "text":
            _doc_hints(findings)
    return 1 if findings and not options.exit_zero else 0


def _suggestions(options: _Options, findings: list[Finding],
                 result: LintResult) -> dict[Finding, Suggestion]:
    """The fixes the json and sarif formats carry (none when libcst is missing)."""
    if options.fmt not in FORMATS_WITH_FIXES or not findings:
        return {}
    try:
        from ._fix_apply import suggest_fixes
    except ImportError:
        logger.debug("libcst is not installed: no fixes in the report", exc_info=True)
        return {}
    return suggest_fixes(findings, result.spans)


def _apply_baseline(options: _Options, result: LintResult,
                    config: LintConfig) -> tuple[list[Finding], int, int]:
    if not options.baseline:
        return result.findings, 0, 0
    try:
        entries = load_entries(options.baseline)
    except BaselineError as exc:
        raise _Failure(str(exc)) from exc
    match = match_baseline(result.findings, entries, config.root, result.paths,
                           config.enabled_codes())
    if options.prune_baseline and match.stale:
        try:
            write_entries(options.baseline, match.kept)
        except OSError as exc:
            raise _Failure(f"cannot write baseline: {_os_reason(exc)}") from exc
    if match.stale and not options.quiet:
        for entry in match.stale[:_MAX_STALE_SHOWN]:
            click.echo(f"stale baseline entry: {entry.get('path')}: {entry.get('code')} in "
                       f"{entry.get('scope') or '<module>'} ({entry.get('key') or ''})",
                       err=True)
        if len(match.stale) > _MAX_STALE_SHOWN:
            click.echo(f"... and {len(match.stale) - _MAX_STALE_SHOWN} more stale entries",
                       err=True)
    return match.new, match.known, len(match.stale)


def _emit(report: str, output_file: str | None) -> None:
    if output_file:
        write_text(output_file, report)
    elif report:
        click.echo(report, nl=False)


#: at most this many codes get a documentation line after the text report
_MAX_DOC_HINTS = 8


def _doc_hints(findings: list[Finding]) -> None:
    """One line per code found, linking its section of the rule reference (what it means, the fix)."""
    codes = sorted({finding.code for finding in findings})
    for code in codes[:_MAX_DOC_HINTS]:
        click.echo(f"  {code}: how to fix it: {code_url(code)}", err=True)
    if len(codes) > _MAX_DOC_HINTS:
        click.echo(f"  ... every code: {code_url(codes[_MAX_DOC_HINTS]).split('#')[0]}", err=True)


def _summary(result: LintResult, shown: int, known: int, stale: int, fixed: int,
             options: _Options) -> None:
    parts = [f"{shown} finding(s) in {result.files} file(s)"]
    if fixed:
        parts.insert(0, f"fixed {fixed}")
        parts[1] = f"{shown} remaining finding(s) in {result.files} file(s)"
    if result.suppressed:
        parts.append(f"{result.suppressed} suppressed by noqa")
    if known:
        parts.append(f"{known} in baseline")
    if stale:
        parts.append(f"{stale} stale baseline entr{'y' if stale == 1 else 'ies'} "
                     + ("pruned" if options.prune_baseline else "(remove with --prune-baseline)"))
    click.echo("loopbridge lint: " + ", ".join(parts) + ".", err=True)


def main(argv: list[str] | None = None) -> None:
    """Run the command as a program (``python -m loopbridge.lint``)."""
    lint_command.main(args=argv, prog_name="loopbridge lint")
