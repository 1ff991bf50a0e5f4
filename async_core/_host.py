"""What the hosting server allows this process: a loop thread needs Python threads that run.

uWSGI before 2.0.30 starts its workers without Python threads unless told otherwise
(``enable-threads``, or ``threads`` above 1): a thread the app starts runs only while a request
is inside Python code, and freezes while the worker waits for the next request. The loop thread
would run during a bridged call and stop between requests, with its connections, timers and
background tasks. :func:`check_threads_can_run` notices that at the loop's first start and
raises an error naming the setting, instead of a loop that hangs between requests.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from ._errors import LoopNotRunning

__all__ = ["check_threads_can_run"]

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
    version = _text(getattr(uwsgi, "version", ""))
    if _version(version) >= _UWSGI_THREADS_BY_DEFAULT:
        return
    options = {_text(key): _text(value) for key, value in opt.items()}
    enabled = options.get("enable-threads", "").lower() in ("true", "1", "yes", "on")
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
