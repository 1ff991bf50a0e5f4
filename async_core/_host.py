"""What the hosting server allows this process: a loop thread needs Python threads that run.

uWSGI before 2.0.30 starts its workers without Python threads unless told otherwise
(``enable-threads``, or ``threads`` above 1): a thread the app starts runs only while a request
is inside Python code, and freezes while the worker waits for the next request. The loop thread
would run during a bridged call and stop between requests, with its connections, timers and
background tasks. :func:`check_threads_can_run` notices that at the loop's first start and
raises an error naming the setting, instead of a loop that hangs between requests.

It also refuses to start a loop in the uWSGI master when the workers are forked from it (no
``lazy-apps``): uWSGI forks from C, without Python's fork handlers, and a worker forked while
the master's loop thread held a lock hangs (see :func:`_check_not_in_uwsgi_master`).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from ._errors import LoopNotRunning

__all__ = ["check_threads_can_run"]

_ON = ("true", "1", "yes", "on")

#: the first uWSGI release whose workers run Python threads without ``enable-threads``
_UWSGI_THREADS_BY_DEFAULT = (2, 0, 30)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def check_threads_can_run() -> None:
    """Raise :class:`LoopNotRunning` naming the server setting when Python threads cannot run here."""
    uwsgi = sys.modules.get("uwsgi")
    opt = getattr(uwsgi, "opt", None)
    if uwsgi is None or not isinstance(opt, dict):
        return
    options = {_text(key): _text(value) for key, value in opt.items()}
    _check_not_in_uwsgi_master(uwsgi, options)
    version = _text(getattr(uwsgi, "version", ""))
    if _version(version) >= _UWSGI_THREADS_BY_DEFAULT:
        return
    enabled = options.get("enable-threads", "").lower() in _ON
    try:
        threads = int(options.get("threads", "1") or "1")
    except ValueError:
        threads = 1
    if enabled or threads > 1:
        return
    raise LoopNotRunning(
        f"uWSGI {version} runs this worker without Python threads (enable-threads is off), so the "
        "loopbridge loop thread would run only while a request is in Python code and hang between "
        "requests. Start uWSGI with --enable-threads (enable-threads = true in uwsgi.ini), or with "
        "--threads N; uWSGI 2.0.30 and later enable threads by default."
    )


def _check_not_in_uwsgi_master(uwsgi: Any, options: dict[str, str]) -> None:
    """A loop thread must not start in the uWSGI master when it forks the workers (no lazy-apps).

    uWSGI forks its workers, and every worker it respawns later (max-requests, reload-on-rss,
    harakiri), from C: no Python fork handler runs before the fork, so a worker forked while the
    master's loop or watchdog thread held the GIL or a lock waits for it forever (seen as a
    worker hung at its first instruction after a respawn). A bridged call at import time is
    what starts the loop in the master.
    """
    try:
        in_master = int(uwsgi.masterpid()) == os.getpid()
    except Exception:  # an older uwsgi module without masterpid(): nothing to judge by
        return
    lazy = any(options.get(name, "").lower() in _ON for name in ("lazy-apps", "lazy"))
    if in_master and not lazy:
        raise LoopNotRunning(
            "a bridged call ran in the uWSGI master while it loads the app for its workers: the loop "
            "thread would run in the master, and uWSGI forks workers from it at any time (each "
            "respawn), where a thread holding a lock at that moment hangs the new worker. Run uWSGI "
            "with --lazy-apps (lazy-apps = true) so that each worker loads the app, or make the "
            "bridged call at the first request instead of at import."
        )
