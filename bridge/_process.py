"""Which process answered: pid, host, and the WSGI server's workers when it can be known.

A stats answer is one process's figures. Under ``gunicorn -w 4`` or ``uwsgi --processes 4``
four loops serve the app, and one answer holds about a quarter of the traffic: the stats say so
under ``"process"``, so that nobody reads one worker as the whole app::

    "process": {"pid": 4242, "host": "web-1", "server": "gunicorn", "workers": 4,
                "worker": 3, "master_pid": 4200, "note": "one of 4 gunicorn workers: ..."}

The server is found without configuration: uWSGI by its ``uwsgi`` module (``numproc``,
``worker_id()``), gunicorn by the arbiter that forked this worker (its ``spawn_worker`` frame
is at the bottom of the worker's main thread, with the arbiter's ``num_workers`` at fork time),
waitress by ``SERVER_SOFTWARE``. Anything else is reported as unknown, never guessed.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["process_info"]

_cache: tuple[int, dict[str, Any]] | None = None
_FLEET_HINT = ("read them all through Prometheus (docs/deploying.md) or merge several answers with "
               "loopbridge report --stats URL --stats URL")


def process_info(environ: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """This process's identity and the server's worker count when known (JSON-able, a new dict).

    Args:
        environ: the WSGI environ of the current request, if any (names the server when
            nothing else does, as waitress).
    """
    if environ is not None and not isinstance(environ, Mapping):
        raise TypeError(f"process_info() needs a WSGI environ mapping or None, got {type(environ).__name__}.")
    global _cache
    cached = _cache
    if cached is None or cached[0] != os.getpid():
        cached = _cache = (os.getpid(), _detect())
    info = dict(cached[1])
    if info["server"] is None and environ is not None:
        software = str(environ.get("SERVER_SOFTWARE", "")).split("/")[0].strip().lower()
        if software:
            info["server"] = software
        if software == "waitress":  # one process, many threads
            info["workers"] = 1
    info["note"] = _note(info)
    return info


def _detect() -> dict[str, Any]:
    info: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname(), "server": None, "workers": None,
                            "worker": None, "master_pid": None}
    uwsgi = sys.modules.get("uwsgi")
    if uwsgi is not None and hasattr(uwsgi, "numproc"):
        info.update(server="uwsgi", workers=int(uwsgi.numproc), worker=int(uwsgi.worker_id()),
                    master_pid=int(uwsgi.masterpid()) or None)
        return info
    found = _gunicorn_arbiter()
    if found is not None:
        arbiter, worker = found
        cfg = getattr(worker, "cfg", None)
        info.update(server="gunicorn", workers=int(arbiter.num_workers), worker=getattr(worker, "age", None),
                    master_pid=getattr(worker, "ppid", None),
                    worker_class=getattr(cfg, "worker_class_str", None), threads=getattr(cfg, "threads", None))
    return info


def _gunicorn_arbiter() -> tuple[Any, Any] | None:
    """The gunicorn arbiter and worker objects of this worker process, from its main thread's stack."""
    if "gunicorn.arbiter" not in sys.modules:
        return None
    frame = sys._current_frames().get(threading.main_thread().ident or -1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "spawn_worker" and code.co_filename.replace("\\", "/").endswith("gunicorn/arbiter.py"):
            local = frame.f_locals
            if "worker" in local and hasattr(local.get("self"), "num_workers"):
                return local["self"], local["worker"]
        frame = frame.f_back
    return None


def _note(info: dict[str, Any]) -> str:
    where = f"pid {info['pid']} on {info['host']}"
    workers, server = info.get("workers"), info.get("server")
    if server is None:
        return (f"figures of one process ({where}); no gunicorn/uWSGI worker was found here, so other "
                f"processes may serve the app too: {_FLEET_HINT}.")
    if workers == 1:
        return f"figures of the only {server} process ({where}); other hosts have their own."
    count = f"{workers}" if workers else "several"
    return (f"figures of one of {count} {server} workers ({where}); the others hold the rest of the "
            f"traffic: {_FLEET_HINT}.")
