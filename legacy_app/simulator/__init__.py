"""A local upstream simulator: many virtual web sites on 127.0.0.1, no internet needed.

The demo, the tests and the benchmarks point their HTTP calls here. It is an aiohttp
server on its own event loop (a daemon thread, or a separate process) — never the
loopbridge loop, so what it measures is the client, not itself.

Endpoints
---------
``GET /``                       JSON description of the simulator (sites, seed, latency).
``GET /sites/{i}``              virtual site ``i`` (``0 <= i < sites``): a small HTML page after
                                the site's latency. Each site is drawn deterministically from the
                                seed: latency around ``latency_ms`` (± ``jitter_ms``), some sites
                                flaky (``error_rate`` of answers are a 500/502/503), a few slow
                                (``SLOW_FACTOR`` × latency) and a few down (always 503).
                                ``?latency_ms=`` overrides the latency of that one answer.
``GET /delay/{ms}``             200 after ``ms`` milliseconds.
``ANY /status/{code}``          an empty answer with that status (100–599 minus 1xx).
``GET /json``                   a fixed JSON document (:data:`JSON_DOCUMENT`).
``GET /text/{charset}``         :func:`sample_text` encoded in ``charset``, declared in the
                                Content-Type; ``/text/none`` sends UTF-8 bytes with no charset.
``GET /headers``                the request headers as JSON; sets ``X-Simulator`` and a repeated
                                ``X-Repeated: one`` / ``X-Repeated: two`` and two ``Set-Cookie``.
``ANY /echo``                   method, path, query, headers, body text, parsed JSON and form.
``GET /redirect/{n}``           ``n`` hops of 302, then 200 with ``{"redirected": true}``.
``GET /redirect-to?url=U``      one redirect (``&status=301|302|303|307|308``) to ``U``.
``GET /hang``                   accepts and never answers; ends when the client disconnects
                                or the simulator stops (no task is left behind).
``GET /slow-body/{ms}``         headers at once, then the body trickled over ``ms``.
``GET /big/{nbytes}``           ``nbytes`` of ``b"x"`` streamed with a Content-Length, or
                                chunked without one when ``?chunked=1``.
``ANY /flaky/{key}?fail=N``     the first ``N`` calls for ``key`` answer ``status`` (default
                                503), later ones 200. ``/flaky/reset`` forgets every key.
``GET /drop``                   closes the connection without any answer.
``GET /stats``                  request counters as JSON (total, per route, in flight, peak).

Use::

    with Simulator(sites=50, latency_ms=10) as sim:
        requests.get(sim.site_url(3))

or from a shell: ``python -m legacy_app.simulator --port 8081 --sites 300``.

Modules: ``_routes`` (the request handlers and the site profiles), ``_server``
(:func:`make_app` and :class:`Simulator`, in a thread or a child process), ``_process`` (the
command and the child-process helpers); ``python -m legacy_app.simulator`` runs ``__main__``.
"""

from __future__ import annotations

import logging

from legacy_app.simulator._process import (
    READY_PREFIX,
    simulator_command,
    start_subprocess,
    stop_subprocess,
)
from legacy_app.simulator._routes import (
    JSON_DOCUMENT,
    SLOW_FACTOR,
    SiteProfile,
    sample_text,
)
from legacy_app.simulator._server import Simulator, draw_profiles, make_app

__all__ = [
    "JSON_DOCUMENT",
    "READY_PREFIX",
    "SLOW_FACTOR",
    "Simulator",
    "SiteProfile",
    "draw_profiles",
    "make_app",
    "sample_text",
    "simulator_command",
    "start_subprocess",
    "stop_subprocess",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
