"""Where each route's wall time goes: a low-rate sampler of the worker threads serving requests.

On only where the app's stats endpoint is on (``LOOPBRIDGE_STATS_URL``), at
``LOOPBRIDGE_STATS_SAMPLE_MS`` (50 ms by default; 0 turns it off). Every request registers its
worker thread under its Flask endpoint as it starts and leaves as it ends (two dict operations);
a daemon thread, ``loopbridge-sampler``, wakes once per interval, and only while requests are in
flight reads their stacks (``sys._current_frames``) and sorts each into:

- **blocked**: the thread waits in a blocking primitive: a socket or TLS read (``socket.py``,
  ``ssl.py``, ``selectors.py``), a C driver's call (``cursor.execute``, ``fetchall``, ``commit``
  of sqlite3, psycopg, mysqlclient ...), ``time.sleep``, a lock or an event (``threading.py``,
  ``queue.py``), a subprocess, a file read. The sample is laid at the innermost frame of the
  app's own code above it (:func:`async_core._stall.frame_kind` ``"user"``), with the kind of IO;
- **fan-out**: the thread waits on futures of a thread pool (``concurrent.futures``), whose
  workers run the same function N times: the textbook case for ``bridge.http.map``; the
  function the pool's workers were seen running is named;
- **bridged**: the thread waits in ``bridge.run`` or ``bridge.http.*`` (the IO runs on the loop);
- **running**: anything else (Python code, template rendering, waiting for the GIL).

A wall-clock sample every interval stands for one interval of that request's time (a tick reads
at most 4 busy threads, in turn; with more, each sample stands for its share of them), so
``blocked × interval`` estimates the time spent blocked, and ``blocked / samples`` its share of
the route's wall time; a route whose requests are all shorter than the interval may get no
sample. Served under the ``"blocked"`` key of the stats JSON (see :meth:`RequestSampler.as_dict`).
"""

from __future__ import annotations

import collections
import dis
import os
import sys
import threading
import time
import types
from typing import Any

from async_core._stall import frame_kind

__all__ = ["RequestSampler", "classify_stack"]

#: frames read per sample, innermost first: a blocking primitive sits near the top
_MAX_DEPTH = 80
#: the most threads one tick reads (taken in turn when more serve requests; see sample_once)
_THREADS_PER_TICK = 4
#: seconds without a request after which the sampling thread ends (the next request restarts it)
_IDLE_EXIT_S = 30.0
#: places kept per endpoint (the most sampled are served)
_MAX_PLACES = 200
_SERVED_PLACES = 8

_STDLIB = os.path.dirname(os.__file__) + os.sep
_OWN = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), package) + os.sep
    for package in ("bridge", "async_core")
)
#: standard-library files whose frames on top of a stack mean a wait, and the kind of it
_BLOCKING_FILES = {
    "socket.py": "network", "ssl.py": "network", "selectors.py": "network", "subprocess.py": "subprocess",
    "threading.py": "wait", "queue.py": "wait",
}
#: names of C callables that block, called from the innermost Python frame
_BLOCKING_CALLS = {
    "sleep": "sleep",
    "execute": "db", "executemany": "db", "executescript": "db", "fetchone": "db", "fetchall": "db",
    "fetchmany": "db", "commit": "db", "rollback": "db", "connect": "db", "callproc": "db",
    "recv": "network", "recv_into": "network", "recvfrom": "network", "send": "network", "sendall": "network",
    "accept": "network", "getaddrinfo": "network", "create_connection": "network", "select": "network",
    "poll": "network", "urlopen": "http",
    "acquire": "wait", "wait": "wait", "join": "wait",
    "read": "file", "readinto": "file", "readline": "file", "readlines": "file", "write": "file",
    "open": "file", "fsync": "file", "listdir": "file", "stat": "file",
    "communicate": "subprocess", "check_output": "subprocess", "system": "subprocess", "waitpid": "subprocess",
}
#: files of an HTTP client: a socket wait under them is an HTTP call
_HTTP_MARKERS = (f"{os.sep}http{os.sep}client.py", f"{os.sep}urllib3{os.sep}", f"{os.sep}requests{os.sep}",
                 f"{os.sep}httpx{os.sep}", f"{os.sep}httpcore{os.sep}", f"{os.sep}urllib{os.sep}request.py")
_FUTURES = f"{os.sep}concurrent{os.sep}futures{os.sep}"
_POOL_WORKER = f"{os.sep}concurrent{os.sep}futures{os.sep}thread.py"
_LOAD_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "LOAD_GLOBAL", "LOAD_NAME"})
_callee_cache: dict[tuple[types.CodeType, int], str | None] = {}


def _callee(code: types.CodeType, lasti: int) -> str | None:
    """The name of the callable the call instruction at ``lasti`` calls (a C function running).

    Walks back over the call's arguments by their stack effect to the instruction that loaded
    the callable (``LOAD_METHOD execute``, ``LOAD_ATTR sleep``, ``LOAD_GLOBAL open``).
    """
    key = (code, lasti)
    if key in _callee_cache:
        return _callee_cache[key]
    if len(_callee_cache) > 20_000:  # code objects of a long-running app: keep the cache bounded
        _callee_cache.clear()
    _callee_cache[key] = name = _find_callee(list(dis.get_instructions(code)), lasti)
    return name


def _find_callee(instructions: list[dis.Instruction], lasti: int) -> str | None:
    index = next((i for i, ins in enumerate(instructions) if ins.offset == lasti), None)
    if index is None or not instructions[index].opname.startswith(("CALL", "PRECALL")):
        return None
    if index > 0 and instructions[index - 1].opname == "PRECALL":  # 3.11: PRECALL n; CALL n
        index -= 1
    argc = instructions[index].arg or 0
    depth = 0  # what the instructions from j up to the call push: the arguments, once it is argc
    for j in range(index, 0, -1):
        if depth == argc:
            loader = instructions[j - 1]
            if loader.opname in _LOAD_OPS and isinstance(loader.argval, str):
                return loader.argval.rpartition(".")[2]
        ins = instructions[j - 1]
        try:
            depth += dis.stack_effect(ins.opcode, ins.arg, jump=False) if ins.opcode >= dis.HAVE_ARGUMENT \
                else dis.stack_effect(ins.opcode)
        except ValueError:
            return None
        if depth > argc + 8:
            return None
    return None


#: one sampled frame of the app: (filename, lineno, qualname)
Place = tuple[str, int, str]


def classify_stack(frame: types.FrameType | None) -> tuple[str, Place | None, str, str | None, tuple[Place, ...]]:
    """Sort one worker thread's stack: ``(state, place, kind, detail, via)``.

    ``state`` is ``"blocked"``, ``"fanout"``, ``"bridged"`` or ``"running"``; ``place`` the
    innermost app frame ``(filename, lineno, qualname)`` (``None`` if the stack shows none);
    ``kind`` the kind of IO (``db``, ``http``, ``network``, ``sleep``, ``wait``, ``file``,
    ``subprocess``) or ``""``; ``detail`` the primitive seen (``execute``, ``socket.py``);
    ``via`` the next app frames out (up to 3): the callers, where the change may be made; a
    qualname there starts with ``|`` when library code runs between it and the app frame inside
    it (the app called a library that called back into the app: an adapter, a hook).

    One walk from the top, stopped at the fourth app frame; what is known of each code object
    is computed once (:func:`_code_facts`), so a sample costs a few µs per thread.
    """
    top = frame
    users: list[Place] = []
    between = http = futures = False
    depth = 0
    while frame is not None and depth < _MAX_DEPTH:
        code = frame.f_code
        facts = _facts.get(code)
        if facts is None:
            facts = _code_facts(code)
        user, own, is_futures, is_http, name = facts
        if user:
            lineno = frame.f_lineno or 0
            if code.co_filename.endswith(_TEMPLATES):
                lineno = _template_line(frame, lineno)
            users.append((code.co_filename, lineno, name if not between else "|" + name))
            between = False
            if len(users) == 4:
                break
        else:
            if not users:
                if own and depth < 12:
                    return "bridged", None, "", None, ()
                http = http or is_http
                futures = futures or (is_futures and depth < 4)
            between = bool(users)
        frame = frame.f_back
        depth += 1
    if top is None:
        return "running", None, "", None, ()
    place, via = (users[0], tuple(users[1:])) if users else (None, ())
    if futures:
        return "fanout", place, "wait", "concurrent.futures", via
    kind, detail = "", None
    callee = _callee(top.f_code, top.f_lasti)
    if callee in _BLOCKING_CALLS:  # a C call that blocks (in the stdlib, the file says what for)
        filename = top.f_code.co_filename
        base = os.path.basename(filename)
        if filename.startswith(_STDLIB) and base in _BLOCKING_FILES:
            kind, detail = _BLOCKING_FILES[base], f"{base} {callee}"
        else:
            kind, detail = _BLOCKING_CALLS[callee], callee
    if not kind:
        return "running", place, "", None, via
    if kind == "network" and http:
        kind = "http"
    return "blocked", place, kind, detail, via


_TEMPLATES = (".html", ".htm", ".jinja", ".jinja2", ".j2", ".xml", ".txt")


def _template_line(frame: types.FrameType, lineno: int) -> int:
    """The template's own line for a frame of a compiled Jinja template (its code's lines are
    those of the Python Jinja generated, under the template's file name)."""
    template = frame.f_globals.get("__jinja_template__")
    lookup = getattr(template, "get_corresponding_lineno", None)
    if lookup is None:
        return lineno
    try:
        return int(lookup(lineno))
    except Exception:  # noqa: BLE001 - a template engine of another shape: keep the code's line
        return lineno


#: code object -> (app code, loopbridge's own, concurrent.futures, an HTTP client's, shown name)
_facts: dict[types.CodeType, tuple[bool, bool, bool, bool, str]] = {}


def _code_facts(code: types.CodeType) -> tuple[bool, bool, bool, bool, str]:
    filename = code.co_filename
    name = getattr(code, "co_qualname", code.co_name)
    while name.endswith(_COMPREHENSIONS):  # the function the comprehension is written in
        name = name.rsplit(".<locals>.", 1)[0]
    facts = (frame_kind(filename) == "user", filename.startswith(_OWN), _FUTURES in filename,
             any(marker in filename for marker in _HTTP_MARKERS), name)
    if len(_facts) > 50_000:  # a long-running app making code objects at run time: stay bounded
        _facts.clear()
    _facts[code] = facts
    return facts


_COMPREHENSIONS = (".<locals>.<genexpr>", ".<locals>.<listcomp>", ".<locals>.<dictcomp>", ".<locals>.<setcomp>")


def _where(frame: types.FrameType) -> tuple[str, int, str]:
    code = frame.f_code
    name = getattr(code, "co_qualname", code.co_name)
    while name.endswith(_COMPREHENSIONS):  # the function the comprehension is written in
        name = name.rsplit(".<locals>.", 1)[0]
    return code.co_filename, frame.f_lineno or 0, name


def _pool_functions(frames: dict[int, types.FrameType], skip: set[int]) -> collections.Counter[str]:
    """The app functions thread-pool workers are running now (innermost app frame of each)."""
    seen: collections.Counter[str] = collections.Counter()
    for ident, frame in frames.items():
        if ident in skip:
            continue
        stack: list[types.FrameType] = []
        walker: types.FrameType | None = frame
        while walker is not None and len(stack) < _MAX_DEPTH:
            stack.append(walker)
            walker = walker.f_back
        if not any(f.f_code.co_filename.endswith(_POOL_WORKER) for f in stack):
            continue
        user = next((f for f in stack if frame_kind(f.f_code.co_filename) == "user"), None)
        if user is not None:
            seen[getattr(user.f_code, "co_qualname", user.f_code.co_name)] += 1
    return seen


class _Row:
    __slots__ = ("blocked", "bridged", "fanout", "fanout_places", "places", "running", "samples")

    def __init__(self) -> None:
        self.samples = self.blocked = self.bridged = self.running = self.fanout = 0.0
        self.places: dict[tuple[str, int, str, str, str, tuple[Place, ...]], float] = collections.defaultdict(float)
        self.fanout_places: dict[tuple[str, int, str], list[Any]] = {}


class RequestSampler:
    """Samples the worker threads of one app's requests (see module doc).

    Example::

        sampler = RequestSampler(interval_ms=50)
        sampler.enter("show_book")     # in the worker thread, as the request starts
        ...
        sampler.leave()                # as it ends
        sampler.as_dict()["endpoints"]["show_book"]["blocked"]
    """

    def __init__(self, interval_ms: float = 50.0) -> None:
        if isinstance(interval_ms, bool) or not isinstance(interval_ms, int | float) or not 1 <= interval_ms <= 10_000:
            raise ValueError(f"interval_ms must be a number of ms in [1, 10000], got {interval_ms!r}")
        self.interval = interval_ms / 1000.0
        self._active: dict[int, str] = {}
        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stop = threading.Event()
        self._turn = 0
        self._cpu_s = self._cpu_base = 0.0

    # -- the request side (worker threads) --
    def enter(self, endpoint: str) -> None:
        """The calling thread serves a request to ``endpoint`` from now on."""
        self._active[threading.get_ident()] = endpoint
        if self._pid != os.getpid():
            self._start()

    def leave(self) -> None:
        """The calling thread's request is over."""
        self._active.pop(threading.get_ident(), None)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()  # a forked worker starts its own thread (the parent's is gone)
            self._stop = threading.Event()
            self._cpu_base = self._cpu_s  # a thread started again adds to what the ended one used
            self._thread = threading.Thread(target=self._run, args=(self._stop,), name="loopbridge-sampler",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the sampling thread (idempotent); the next request starts it again."""
        with self._lock:
            self._stop.set()
            thread, self._thread, self._pid = self._thread, None, 0
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # -- the sampling thread --
    def _run(self, stop: threading.Event) -> None:
        idle_since = time.monotonic()
        while not stop.wait(self.interval):
            if self._active:
                idle_since = time.monotonic()
                try:
                    self.sample_once()
                except Exception:  # noqa: BLE001 - a figure lost, never the app's request
                    pass
                self._cpu_s = self._cpu_base + time.thread_time()  # what sampling has cost so far
            elif time.monotonic() - idle_since > _IDLE_EXIT_S:
                with self._lock:  # no request for a while: end; the next request starts it again
                    if not self._active and self._thread is threading.current_thread():
                        self._thread, self._pid = None, 0
                        return

    def sample_once(self) -> None:
        """Take one sample of the threads serving a request now.

        At most :data:`_THREADS_PER_TICK` of them, taken in turn, so a tick costs the same with
        16 or 64 busy threads; each sample then counts for ``busy / sampled`` (the figures are
        estimates of the same wall time, not a count of stacks).
        """
        items = list(self._active.items())
        if not items:
            return
        weight = 1.0
        if len(items) > _THREADS_PER_TICK:
            self._turn = (self._turn + _THREADS_PER_TICK) % len(items)
            items = (items[self._turn:] + items[:self._turn])[:_THREADS_PER_TICK]
            weight = len(self._active) / _THREADS_PER_TICK
        active = dict(items)
        frames = sys._current_frames()
        try:
            results = [(endpoint, classify_stack(frames.get(ident))) for ident, endpoint in active.items()
                       if ident in frames]
            workers = None
            if any(state == "fanout" for _, (state, *_) in results):
                workers = _pool_functions(frames, set(active))
        finally:
            del frames
        with self._lock:
            for endpoint, (state, place, kind, detail, via) in results:
                row = self._rows.get(endpoint)
                if row is None:
                    row = self._rows[endpoint] = _Row()
                row.samples += weight
                if state == "blocked" and place is not None:
                    row.blocked += weight
                    key = (*place, kind, detail or "", via)
                    if key in row.places or len(row.places) < _MAX_PLACES:
                        row.places[key] += weight
                elif state == "blocked":
                    row.blocked += weight
                elif state == "fanout":
                    row.fanout += weight
                    self._count_fanout(row, place, workers, weight)
                elif state == "bridged":
                    row.bridged += weight
                else:
                    row.running += weight

    @staticmethod
    def _count_fanout(row: _Row, place: Place | None, workers: collections.Counter[str] | None,
                      weight: float) -> None:
        if place is None or (place not in row.fanout_places and len(row.fanout_places) >= _MAX_PLACES):
            return
        entry = row.fanout_places.setdefault(place, [0.0, collections.Counter(), 0])
        entry[0] += weight
        if workers:
            function, parallel = workers.most_common(1)[0]
            entry[1][function] += 1
            entry[2] = max(entry[2], parallel)

    # -- the stats endpoint --
    def as_dict(self) -> dict[str, Any]:
        """The figures by endpoint, for the stats JSON's ``"blocked"`` key::

            {"interval_ms": 50.0, "endpoints": {"show_book": {
                "samples": 20, "blocked": 12, "fanout": 0, "bridged": 0, "running": 19,
                "blocked_ms": 600.0, "blocked_share": 0.6,
                "where": [{"site": "cps/db.py:812", "function": "CalibreDB.get_book", "kind": "db",
                           "primitive": "execute", "samples": 11,
                           "via": [{"site": "cps/web.py:1480", "function": "show_book",
                                    "through_library": False}]}, ...],
                "fanout_where": [{"site": "app/views.py:40", "function": "check_all", "worker": "check_one",
                                  "samples": 12, "max_parallel": 8}]}}}

        ``blocked_ms`` counts the fan-out waits too (the request's thread waits either way);
        ``cpu_ms`` is the CPU time the sampling thread has used in this process (its cost).
        """
        interval_ms = round(self.interval * 1000, 3)
        with self._lock:
            rows = {endpoint: row for endpoint, row in self._rows.items()}
            out: dict[str, Any] = {}
            for endpoint, row in sorted(rows.items()):
                waiting = row.blocked + row.fanout
                out[endpoint] = {
                    "samples": round(row.samples), "blocked": round(row.blocked), "fanout": round(row.fanout),
                    "bridged": round(row.bridged), "running": round(row.running), "blocked_ms": round(waiting * interval_ms, 3),
                    "blocked_share": round(waiting / row.samples, 4) if row.samples else None,
                    "where": [
                        {"site": f"{filename}:{lineno}", "function": function, "kind": kind, "primitive": detail,
                         "samples": round(count), "via": [{"site": f"{f}:{n}", "function": q.lstrip("|"),
                                                    "through_library": q.startswith("|")} for f, n, q in via]}
                        for (filename, lineno, function, kind, detail, via), count in sorted(row.places.items(), key=lambda item: -item[1])[:_SERVED_PLACES]
                    ],
                    "fanout_where": [
                        {"site": f"{filename}:{lineno}", "function": function,
                         "worker": entry[1].most_common(1)[0][0] if entry[1] else None,
                         "samples": round(entry[0]), "max_parallel": entry[2]}
                        for (filename, lineno, function), entry in sorted(
                            row.fanout_places.items(), key=lambda item: -item[1][0])[:_SERVED_PLACES]
                    ],
                }
        return {"interval_ms": interval_ms, "cpu_ms": round(self._cpu_s * 1000, 3), "endpoints": out}
