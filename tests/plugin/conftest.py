"""The plugin is tested the way users meet it: inner pytest runs through ``pytester``.

pytest only honours ``pytest_plugins`` in the top-level conftest; this directory loads the
``pytester`` plugin itself when that conftest does not.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Make the ``pytester`` fixture available (called when this conftest is imported)."""
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
