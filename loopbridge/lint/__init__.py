"""``loopbridge.lint``: find blocking calls and forgotten awaits in coroutines, statically.

It parses the code with :mod:`ast` and never imports or runs it. It resolves imports and
aliases, infers the type of common blocking objects, indexes every function of the tree, and
reports:

- LB1xx a blocking call written directly in an ``async def``;
- LB2xx a call from an ``async def`` to a project function that blocks, with the chain;
- LB3xx a coroutine created and never awaited (dropped, tested, formatted, or in sync code);
- LB4xx the bridge's sync entry points (``run``, ``to_sync`` wrappers) used in a coroutine;
- LB9xx a file that cannot be analysed.

Example::

    from loopbridge.lint import LintConfig, lint_paths

    result = lint_paths(["legacy_app"], LintConfig(select=("LB1", "LB2")))
    for finding in result.findings:
        print(finding.render())
"""

from __future__ import annotations

from ._codes import RULES
from ._config import ConfigError, LintConfig, load_config
from ._engine import LintResult, lint_paths, lint_source
from ._model import ChainLink, Finding, Rule

__all__ = [
    "RULES",
    "ChainLink",
    "ConfigError",
    "Finding",
    "LintConfig",
    "LintResult",
    "Rule",
    "lint_paths",
    "lint_source",
    "load_config",
]
