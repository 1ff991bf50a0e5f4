"""legacy_app: an uptime monitor (Flask, requests, sqlite3) in the middle of its migration.

``create_app`` builds the app; :mod:`legacy_app.simulator` serves the fake sites it
checks; :mod:`legacy_app.demo` runs both. The factory is imported on first use so that
the simulator can run without Flask or the bridge being loaded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["create_app"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the monitor app; see :func:`legacy_app.app.create_app` for the settings."""
    from legacy_app.app import create_app as factory

    return factory(config)
