"""The public face: every exported name exists, ``__all__`` is sorted, fixed names stay fixed."""

from __future__ import annotations

import importlib

import pytest

import async_core
import bridge

FIXED_BRIDGE_NAMES = {
    "run", "to_sync", "to_async", "LoopBridge", "http",
    "LoopBridgeError", "LoopNotRunning", "BridgeTimeout", "Overloaded", "DeadlockRisk",
}
FIXED_HTTP_NAMES = {"get", "post", "put", "patch", "delete", "head", "request", "map"}


@pytest.mark.parametrize("module", [async_core, bridge, importlib.import_module("bridge.http")])
def test_all_is_sorted_and_every_name_exists(module) -> None:  # type: ignore[no-untyped-def]
    names = module.__all__
    assert names == sorted(names), f"{module.__name__}.__all__ is not sorted"
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{module.__name__} exports missing names {missing}"


def test_the_fixed_public_names_are_exported() -> None:
    assert FIXED_BRIDGE_NAMES <= set(bridge.__all__)
    assert FIXED_HTTP_NAMES <= set(importlib.import_module("bridge.http").__all__)


def test_errors_are_one_hierarchy_rooted_in_async_core_and_reexported_by_bridge() -> None:
    error_names = [n for n in bridge.__all__ if isinstance(getattr(bridge, n), type) and issubclass(getattr(bridge, n), Exception)]
    assert error_names
    for name in error_names:
        cls = getattr(bridge, name)
        assert cls is getattr(async_core, name), name
        assert issubclass(cls, async_core.LoopBridgeError), name
        assert cls.__module__ == "async_core._errors", name


def test_errors_are_also_what_legacy_code_already_catches() -> None:
    import requests

    assert issubclass(bridge.BridgeTimeout, TimeoutError)
    assert issubclass(bridge.DeadlockRisk, RuntimeError)
    assert issubclass(bridge.UpstreamError, requests.RequestException)
    assert issubclass(bridge.UpstreamConnectionError, requests.ConnectionError)
    assert issubclass(bridge.UpstreamTimeout, requests.Timeout)
    assert issubclass(bridge.UpstreamHTTPError, requests.HTTPError)


def test_bridge_reexports_every_error_of_the_hierarchy() -> None:
    errors = {n for n in async_core.__all__ if isinstance(getattr(async_core, n), type)
              and issubclass(getattr(async_core, n), async_core.LoopBridgeError)}
    assert errors <= set(bridge.__all__), sorted(errors - set(bridge.__all__))


def test_async_core_never_imports_bridge_or_flask() -> None:
    import subprocess
    import sys

    code = "import sys, async_core; print(sorted(m for m in sys.modules if m.split('.')[0] in ('bridge', 'flask')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
