"""The ``loopbridge`` command: ``lint``, ``demo``, ``simulator`` and ``bench``.

Subcommands are imported only when used, so ``loopbridge lint`` never loads the runtime and
``loopbridge --help`` stays fast. ``demo`` and ``simulator`` come from the bundled example app
(``legacy_app``), which ships in the same distribution.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from ._version import __version__

__all__ = ["main"]

#: subcommand -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "lint": ("loopbridge.lint._cli", "lint_command", "Find blocking calls and forgotten awaits in coroutines."),
    "demo": ("legacy_app.demo", "demo_command", "Run the uptime-monitor demo on 127.0.0.1 (offline)."),
    "simulator": ("legacy_app.simulator", "simulator_command", "Serve many simulated upstream sites on 127.0.0.1."),
    "bench": ("loopbridge.bench._cli", "bench_command", "Measure the bridge against the alternatives, as ratios."),
    "report": ("loopbridge.report._cli", "report_command", "Show the migration's progress per route and module, static and live."),
}


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = _COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attr, _ = spec
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise click.ClickException(
                f"'loopbridge {cmd_name}' needs a part that is not installed ({exc}); "
                "install the extras named in README.md, e.g. pip install 'loopbridge[demo]'."
            ) from exc
        command: Any = getattr(module, attr)
        return command  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in sorted(_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="loopbridge")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """loopbridge: move a sync Flask + requests app onto asyncio one call at a time."""
    if verbose:
        level = logging.DEBUG if verbose > 1 else logging.INFO
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="loopbridge")


if __name__ == "__main__":  # pragma: no cover
    main()
