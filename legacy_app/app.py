"""The application factory of the uptime monitor.

Configuration keys (pass them to :func:`create_app`, or set ``LEGACY_APP_<KEY>`` in the
environment; values given to the factory win):

=========================  ===================================  =========================================================
``DATABASE``               ``<instance>/legacy_app.sqlite3``    SQLite file (created and upgraded)
``SECRET_KEY``             generated, kept in the instance dir  signs sessions and CSRF tokens
``CHECKER``                ``"legacy"``                         ``"legacy"`` or ``"bridge"``
``CHECK_TIMEOUT``          ``5.0``                              seconds per site check
``CHECK_CONCURRENCY``      ``100``                              checks in flight (bridge checker)
``CHECK_SESSION_ON_LOOP``  ``False``                            the legacy checker's Session mounts ``LoopBridgeAdapter``
``SSRF_ALLOW``             ``[]``                               hosts/networks allowed although private
``HTTP_RETRIES``           ``0``                                retries of a failed bridged check
``INSTANCE_PATH``          Flask's default                      where the file defaults live
``MAX_CONTENT_LENGTH``     ``65536`` (64 KiB)                   largest request body (413 beyond)
``MAX_FORM_MEMORY_SIZE``   ``16384`` (16 KiB)                   largest multipart form field (413 beyond)
``MAX_FORM_PARTS``         ``50``                               most fields in one multipart form (413 beyond)
=========================  ===================================  =========================================================

The size limits hold under any server (Flask refuses before reading); under waitress
(:mod:`legacy_app.server`, the demo) the server itself also refuses a larger body before
reading it, so nothing past the limit is buffered. See :mod:`legacy_app.errors`.

Migration step 1 is the single line ``LoopBridge(app)`` below; nothing else in the app
had to change for it.

The SSRF guard and the retries are this app's ``bridge.http`` settings
(``LOOPBRIDGE_HTTP``): the factory turns the guard on with this app's allow-list, and
another app in the same process keeps its own. Retries default to 0 so both checkers see
each site exactly once, as the legacy checker always did.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from bridge import LoopBridge
from legacy_app import api, db, errors, views
from legacy_app.checkers import CHECKERS
from legacy_app.validation import SsrfPolicy

logger = logging.getLogger(__name__)

csrf = CSRFProtect()

DEFAULTS: dict[str, Any] = {
    "CHECKER": "legacy",
    "CHECK_TIMEOUT": 5.0,
    "CHECK_CONCURRENCY": 100,
    "SSRF_ALLOW": [],
    "HTTP_RETRIES": 0,
    "CHECK_SESSION_ON_LOOP": False,
    **errors.LIMITS,
}
_SECRET_FILE = "secret_key"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the monitor app: storage, CSRF protection, the HTML pages and the JSON API.

    Raises:
        TypeError: ``config`` is not a dict.
        ValueError: a setting is invalid; the message names it and the accepted values.
    """
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config must be a dict of settings, got {type(config).__name__}")
    overrides = dict(config or {})
    instance_path = overrides.pop("INSTANCE_PATH", None) or os.environ.get("LEGACY_APP_INSTANCE_PATH")
    if instance_path is not None:
        instance_path = os.path.abspath(instance_path)
    app = Flask("legacy_app", instance_path=instance_path)
    app.config.update(DEFAULTS)
    app.config["DATABASE"] = os.path.join(app.instance_path, "legacy_app.sqlite3")
    app.config.from_prefixed_env("LEGACY_APP")
    app.config.pop("INSTANCE_PATH", None)
    app.config.update(overrides)
    validate_config(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path))
    app.config["SSRF_POLICY"] = SsrfPolicy.from_config(app.config["SSRF_ALLOW"])

    errors.init_app(app)
    db.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API takes JSON only, which a cross-site form cannot send
    # this app's own HTTP settings (the guard and its allow-list, retries), not the process's:
    # another app in the same process keeps its own
    app.config["LOOPBRIDGE_HTTP"] = {**app.config.get("LOOPBRIDGE_HTTP", {}), "block_private": True,
                                     "allow": app.config["SSRF_POLICY"].as_list(),
                                     "retries": app.config["HTTP_RETRIES"]}

    LoopBridge(app)
    return app


def validate_config(config: Any) -> None:
    """Raise ValueError for a setting the monitor cannot use, naming what to set instead."""
    if config["CHECKER"] not in CHECKERS:
        raise ValueError(f"CHECKER must be one of {', '.join(CHECKERS)}, got {config['CHECKER']!r}")
    try:
        timeout = float(config["CHECK_TIMEOUT"])
    except (TypeError, ValueError):
        timeout = -1.0
    if not 0 < timeout <= 300:
        raise ValueError(f"CHECK_TIMEOUT must be seconds in (0, 300], got {config['CHECK_TIMEOUT']!r}")
    config["CHECK_TIMEOUT"] = timeout
    concurrency = config["CHECK_CONCURRENCY"]
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 1000:
        raise ValueError(f"CHECK_CONCURRENCY must be an int in 1..1000, got {concurrency!r}")
    retries = config["HTTP_RETRIES"]
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ValueError(f"HTTP_RETRIES must be an int in 0..10, got {retries!r}")
    if not isinstance(config["SSRF_ALLOW"], (list, tuple, str)):
        raise ValueError("SSRF_ALLOW must be a list of hosts or networks, e.g. ['127.0.0.1']")
    if not isinstance(config["CHECK_SESSION_ON_LOOP"], bool):
        raise ValueError(f"CHECK_SESSION_ON_LOOP must be True or False, got {config['CHECK_SESSION_ON_LOOP']!r}")
    errors.validate_limits(config)
    if not isinstance(config["DATABASE"], (str, os.PathLike)) or not str(config["DATABASE"]):
        raise ValueError("DATABASE must be the path of the SQLite file")
    config["DATABASE"] = str(config["DATABASE"])


def instance_secret(instance: Path) -> str:
    """Read the instance's secret key, creating it (mode 0600) on first start."""
    path = instance / _SECRET_FILE
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise ValueError(f"{path} holds a key shorter than 32 characters; delete it to get a new one") from None
        return key
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    logger.info("generated a new secret key in %s", path)
    return key
