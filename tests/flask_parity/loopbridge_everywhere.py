"""A pytest plugin for Flask's own test suite: install LoopBridge on every app it creates.

Loaded with ``-p loopbridge_everywhere`` by ``run_parity.py``. It also counts the coroutines
Flask hands to the extension, so the run proves they really went through the shared loop.
"""

from __future__ import annotations

from typing import Any

import flask

import bridge._flask as _flask_integration
from bridge import LoopBridge

_original_init = flask.Flask.__init__
_bridged = {"coroutines": 0}
_original_run = _flask_integration.run


def _init_with_loopbridge(self: flask.Flask, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    LoopBridge(self)


def _counting_run(*args: Any, **kwargs: Any) -> Any:
    _bridged["coroutines"] += 1
    return _original_run(*args, **kwargs)


flask.Flask.__init__ = _init_with_loopbridge  # type: ignore[method-assign]
_flask_integration.run = _counting_run  # type: ignore[assignment]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the count ``run_parity.py`` reads."""
    terminalreporter.write_line(f"loopbridge-bridged-coroutines: {_bridged['coroutines']}")
