"""A pytest plugin for a requests client's own test suite: LoopBridgeAdapter on every Session.

Loaded with ``-p loopbridge_adapter_everywhere`` by ``parity.py`` (requests' suite and the
clients of ``run_clients.py``). Every ``requests.Session`` (and so every ``requests.get``) gets
the adapter for ``http://`` and ``https://`` right after its own init; a test that mounts its
own adapter afterwards still overrides it, as with any Session.

A client that mounts ``HTTPAdapter`` subclasses of its own (``class MyAdapter(HTTPAdapter)``
overriding ``build_response`` or ``add_headers``) migrates by deriving them from
``LoopBridgeAdapter`` instead. ``LOOPBRIDGE_PARITY_REBASE="pkg.mod:MyAdapter,pkg.other:Tls"``
does exactly that before the suite imports them: each named class gets ``LoopBridgeAdapter``
as its base in place of ``HTTPAdapter``, so its own overrides still run on top of ours.

It also counts the requests the adapter sent, so the run proves they really went through the
shared loop.
"""

from __future__ import annotations

import importlib
import os
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


def _rebase(spec: str) -> None:
    """Make ``module:Class`` (an HTTPAdapter subclass) derive from LoopBridgeAdapter."""
    module_name, _, class_name = spec.strip().partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    bases = tuple(LoopBridgeAdapter if base is requests.adapters.HTTPAdapter else base for base in cls.__bases__)
    if bases == cls.__bases__:
        raise SystemExit(f"LOOPBRIDGE_PARITY_REBASE: {spec} does not derive directly from requests' HTTPAdapter "
                         f"(its bases: {cls.__bases__}); name the class that does")
    cls.__bases__ = bases


requests.Session.__init__ = _init_with_adapter  # type: ignore[method-assign]
LoopBridgeAdapter.send = _counting_send  # type: ignore[method-assign]
for _spec in filter(None, os.environ.get("LOOPBRIDGE_PARITY_REBASE", "").split(",")):
    _rebase(_spec)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the count ``parity.py`` reads."""
    terminalreporter.write_line(f"loopbridge-adapter-requests: {_sent['requests']}")
