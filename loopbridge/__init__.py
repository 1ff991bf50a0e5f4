"""loopbridge: the tools of the project, named after the ``loopbridge`` command.

This package holds the command (:mod:`loopbridge.cli`), the static lint
(:mod:`loopbridge.lint`), the benchmarks (:mod:`loopbridge.bench`), the pytest plugin and the
flake8 and Flask CLI entry points. Importing it loads nothing of the runtime: the lint, an
inert pytest plugin and ``loopbridge --help`` never import aiohttp, Flask, asgiref or
:mod:`async_core`.

For convenience the bridge's public names are also reachable from here, loaded on first
attribute access (PEP 562)::

    from loopbridge import run, LoopBridge      # the same objects as bridge.run, bridge.LoopBridge

The runtime itself lives in :mod:`bridge` (the sync side) and :mod:`async_core` (the loop side).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from bridge import LoopBridge, http, run, to_async, to_sync

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: the bridge names re-exported lazily (each a contract: they are bridge's own objects)
_BRIDGE_NAMES = ("LoopBridge", "http", "run", "to_async", "to_sync")

__all__ = ["LoopBridge", "__version__", "http", "run", "to_async", "to_sync"]


def __getattr__(name: str) -> Any:
    if name in _BRIDGE_NAMES:
        value = getattr(importlib.import_module("bridge"), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'loopbridge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
