"""A pytest plugin for requests' own test suite: mount LoopBridgeAdapter on every Session.

Loaded with ``-p loopbridge_adapter_everywhere`` by ``run_parity.py``. Every ``requests.Session``
(and so every ``requests.get``) gets the adapter for ``http://`` and ``https://`` right after
its own init; a test that mounts its own adapter afterwards still overrides it, as with any
Session. It also counts the requests the adapter sent, so the run proves they really went
through the shared loop.
"""

from __future__ import annotations

from typing import Any

import requests

from bridge.http import LoopBridgeAdapter

_original_init = requests.Session.__init__
_original_send = LoopBridgeAdapter.send
_sent = {"requests": 0}


def _init_with_adapter(self: requests.Session, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self.mount("https://", LoopBridgeAdapter())
    self.mount("http://", LoopBridgeAdapter())


def _counting_send(self: LoopBridgeAdapter, *args: Any, **kwargs: Any) -> Any:
    _sent["requests"] += 1
    return _original_send(self, *args, **kwargs)


requests.Session.__init__ = _init_with_adapter  # type: ignore[method-assign]
LoopBridgeAdapter.send = _counting_send  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the count ``run_parity.py`` reads."""
    terminalreporter.write_line(f"loopbridge-adapter-requests: {_sent['requests']}")
