"""Request handlers of the upstream simulator (see :mod:`legacy_app.simulator` for the list).

Every handler waits with ``asyncio`` (never a thread) and does little per request, so a
single simulator loop carries many hundreds of concurrent connections. Long waits listen
to the app's stop event, so stopping the simulator never leaves a task behind.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

#: How much slower than ``latency_ms`` a "slow" site answers.
SLOW_FACTOR = 8.0

#: Largest body ``/big/{nbytes}`` agrees to send (1 GiB).
MAX_BIG_BYTES = 1 << 30

#: The document served by ``/json``.
JSON_DOCUMENT: dict[str, Any] = {
    "name": "loopbridge simulator",
    "numbers": [1, 2, 3],
    "nested": {"ok": True, "ratio": 0.5, "none": None},
    "unicode": "Grüße, café — Ωμέγα",
}

_TEXT_LATIN = "Grüße aus Köln: café, naïve façade, smørbrød, ¿qué?"
_TEXT_WIDE = _TEXT_LATIN + " — Ωμέγα, Привет, 日本語"
_MAX_FLAKY_KEYS = 10_000
_CHUNK = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sample_text(charset: str) -> str:
    """Return the text ``/text/{charset}`` serves: the widest sample ``charset`` can encode.

    Raises:
        ValueError: ``charset`` is not a codec Python knows; use e.g. ``utf-8`` or ``latin-1``.
    """
    if charset.lower() == "none":
        return _TEXT_WIDE
    try:
        _TEXT_WIDE.encode(charset)
    except LookupError as exc:
        raise ValueError(f"unknown charset {charset!r}; use a Python codec name such as 'utf-8'") from exc
    except UnicodeEncodeError:
        return _TEXT_LATIN
    return _TEXT_WIDE


@dataclass(frozen=True)
class SiteProfile:
    """How one virtual site behaves: its latency, its error rate and whether it is down."""

    index: int
    latency_ms: float
    error_rate: float
    slow: bool = False
    down: bool = False


@dataclass(frozen=True)
class SimConfig:
    """The settings of one simulator app and the per-site profiles drawn from its seed."""

    sites: int
    seed: int
    latency_ms: float
    jitter_ms: float
    error_rate: float
    profiles: tuple[SiteProfile, ...]


@dataclass
class SimState:
    """Mutable per-app state: counters, flaky keys, the answer RNG and the stop event."""

    rng: random.Random
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    total: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    flaky: dict[str, int] = field(default_factory=dict)


SIM_CONFIG: web.AppKey[SimConfig] = web.AppKey("sim_config", SimConfig)
SIM_STATE: web.AppKey[SimState] = web.AppKey("sim_state", SimState)


def _int_param(request: web.Request, name: str, default: int | None = None) -> int:
    """Read an int from the path or query string, or answer 400 with what to send instead."""
    raw = request.match_info.get(name, request.query.get(name))
    if raw is None:
        if default is None:
            raise web.HTTPBadRequest(text=f"missing parameter {name!r}; pass an integer")
        return default
    try:
        return int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"parameter {name!r} must be an integer, got {raw!r}") from None


async def _pause(request: web.Request, seconds: float) -> bool:
    """Wait ``seconds`` unless the simulator stops first; return True if it is stopping."""
    stopping = request.app[SIM_STATE].stopping
    try:
        await asyncio.wait_for(stopping.wait(), max(0.0, seconds))
    except TimeoutError:
        return False
    return True


@web.middleware
async def _count(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keep the counters ``/stats`` reports."""
    state = request.app[SIM_STATE]
    resource = request.match_info.route.resource
    state.total += 1
    state.by_route[resource.canonical if resource is not None else "unmatched"] += 1
    state.in_flight += 1
    state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
    try:
        return await handler(request)
    finally:
        state.in_flight -= 1


async def index(request: web.Request) -> web.Response:
    """Describe the simulator."""
    cfg = request.app[SIM_CONFIG]
    return web.json_response({"simulator": "loopbridge", "sites": cfg.sites, "seed": cfg.seed,
                              "latency_ms": cfg.latency_ms, "jitter_ms": cfg.jitter_ms,
                              "error_rate": cfg.error_rate})


async def site(request: web.Request) -> web.Response:
    """Answer as virtual site ``i``: its latency, then its page or an error."""
    cfg = request.app[SIM_CONFIG]
    i = _int_param(request, "i")
    if not 0 <= i < cfg.sites:
        raise web.HTTPNotFound(text=f"no site {i}; this simulator serves sites 0..{cfg.sites - 1}")
    profile = cfg.profiles[i]
    latency = profile.latency_ms
    if "latency_ms" in request.query:
        try:
            latency = max(0.0, float(request.query["latency_ms"]))
        except ValueError:
            raise web.HTTPBadRequest(text="latency_ms must be a number of milliseconds") from None
    await asyncio.sleep(latency / 1000)
    if profile.down:
        return web.Response(status=503, text=f"site {i} is down")
    state = request.app[SIM_STATE]
    if profile.error_rate and state.rng.random() < profile.error_rate:
        return web.Response(status=state.rng.choice((500, 502, 503)), text=f"site {i} failed")
    return web.Response(text=f"<!doctype html><title>Site {i}</title><h1>Site {i}</h1>",
                        content_type="text/html")


async def delay(request: web.Request) -> web.Response:
    """200 after ``ms`` milliseconds."""
    ms = _int_param(request, "ms")
    await _pause(request, ms / 1000)
    return web.json_response({"delayed_ms": ms})


async def status(request: web.Request) -> web.Response:
    """An answer with the status asked for."""
    code = _int_param(request, "code")
    if not 200 <= code <= 599:
        raise web.HTTPBadRequest(text=f"status must be in 200..599, got {code}")
    if code in (204, 304):
        return web.Response(status=code)
    return web.Response(status=code, text=f"status {code}")


async def json_doc(request: web.Request) -> web.Response:
    """The fixed JSON document."""
    return web.json_response(JSON_DOCUMENT)


async def text(request: web.Request) -> web.Response:
    """Non-ASCII text in the charset asked for; ``none`` declares no charset."""
    charset = request.match_info["charset"]
    try:
        body = sample_text(charset)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if charset.lower() == "none":
        return web.Response(body=body.encode("utf-8"), headers={"Content-Type": "text/plain"})
    return web.Response(body=body.encode(charset),
                        headers={"Content-Type": f"text/plain; charset={charset}"})


async def headers(request: web.Request) -> web.Response:
    """Echo the request headers; set a few response headers, one of them twice."""
    resp = web.json_response({"headers": dict(request.headers.items())})
    resp.headers["X-Simulator"] = "loopbridge"
    resp.headers.add("X-Repeated", "one")
    resp.headers.add("X-Repeated", "two")
    resp.headers.add("Set-Cookie", "a=1; Path=/")
    resp.headers.add("Set-Cookie", "b=2; Path=/")
    return resp


async def echo(request: web.Request) -> web.Response:
    """Echo method, path, query, headers, body, JSON and form as JSON."""
    raw = await request.read()
    parsed: Any = None
    form: dict[str, str] | None = None
    if "json" in request.content_type and raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
    elif request.content_type == "application/x-www-form-urlencoded":
        form = {k: str(v) for k, v in (await request.post()).items()}
    return web.json_response({
        "method": request.method, "path": request.path,
        "args": {k: request.query[k] for k in request.query},
        "query_list": [[k, v] for k, v in request.query.items()],
        "headers": dict(request.headers.items()),
        "body": raw.decode("utf-8", "replace"), "json": parsed, "form": form,
    })


async def redirect(request: web.Request) -> web.Response:
    """``n`` hops of 302, then 200."""
    n = _int_param(request, "n")
    if n < 0 or n > 1000:
        raise web.HTTPBadRequest(text="n must be in 0..1000")
    if n == 0:
        return web.json_response({"redirected": True})
    raise web.HTTPFound(location=f"/redirect/{n - 1}")


async def redirect_to(request: web.Request) -> web.Response:
    """One redirect to ``?url=`` with ``?status=`` (302 by default)."""
    url = request.query.get("url")
    if not url:
        raise web.HTTPBadRequest(text="pass the target as ?url=")
    code = _int_param(request, "status", 302)
    if code not in (301, 302, 303, 307, 308):
        raise web.HTTPBadRequest(text="status must be one of 301, 302, 303, 307, 308")
    return web.Response(status=code, headers={"Location": url})


async def hang(request: web.Request) -> web.Response:
    """Never answer: wait for the client to give up (cancels us) or the simulator to stop."""
    await request.app[SIM_STATE].stopping.wait()
    return web.Response(status=503, text="simulator stopping")


async def slow_body(request: web.Request) -> web.StreamResponse:
    """Headers at once, then ``chunks`` (default 10) pieces of body spread over ``ms``."""
    ms = _int_param(request, "ms")
    chunks = max(1, min(_int_param(request, "chunks", 10), 1000))
    piece = b"slow-body\n"
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    resp.content_length = len(piece) * chunks
    await resp.prepare(request)
    for _ in range(chunks):
        if await _pause(request, ms / 1000 / chunks):
            break
        await resp.write(piece)
    await resp.write_eof()
    return resp


async def big(request: web.Request) -> web.StreamResponse:
    """``nbytes`` of body streamed, with a Content-Length unless ``?chunked=1``."""
    nbytes = _int_param(request, "nbytes")
    if not 0 <= nbytes <= MAX_BIG_BYTES:
        raise web.HTTPBadRequest(text=f"nbytes must be in 0..{MAX_BIG_BYTES}")
    resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    if request.query.get("chunked") in ("1", "true", "yes"):
        resp.enable_chunked_encoding()
    else:
        resp.content_length = nbytes
    await resp.prepare(request)
    block = b"x" * _CHUNK
    left = nbytes
    while left > 0:
        await resp.write(block[:min(left, _CHUNK)])
        left -= _CHUNK
    await resp.write_eof()
    return resp


async def flaky(request: web.Request) -> web.Response:
    """Fail the first ``fail`` calls for ``key`` with ``status``, then answer 200."""
    state = request.app[SIM_STATE]
    key = request.match_info["key"]
    fail = _int_param(request, "fail", 1)
    code = _int_param(request, "status", 503)
    if not 400 <= code <= 599:
        raise web.HTTPBadRequest(text="status must be an error status in 400..599")
    if key not in state.flaky and len(state.flaky) >= _MAX_FLAKY_KEYS:
        raise web.HTTPBadRequest(text="too many flaky keys; call /flaky/reset")
    calls = state.flaky[key] = state.flaky.get(key, 0) + 1
    if calls <= fail:
        return web.json_response({"key": key, "call": calls, "failed": True}, status=code)
    return web.json_response({"key": key, "call": calls, "failed": False})


async def flaky_reset(request: web.Request) -> web.Response:
    """Forget every flaky key."""
    request.app[SIM_STATE].flaky.clear()
    return web.json_response({"reset": True})


async def drop(request: web.Request) -> web.Response:
    """Close the connection without sending anything."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError  # nothing can be written; end the handler quietly


async def stats(request: web.Request) -> web.Response:
    """Request counters; ``POST /stats`` resets them."""
    state = request.app[SIM_STATE]
    if request.method == "POST":
        state.total = state.peak_in_flight = 0
        state.by_route.clear()
    return web.json_response({"total": state.total, "in_flight": state.in_flight,
                              "peak_in_flight": state.peak_in_flight,
                              "by_route": dict(state.by_route)})


async def _on_shutdown(app: web.Application) -> None:
    """Wake every waiting handler so the server can close without cancelling them."""
    app[SIM_STATE].stopping.set()


def add_routes(app: web.Application, rng: random.Random) -> None:
    """Register the handlers, the counters and the shutdown hook on ``app``."""
    app[SIM_STATE] = SimState(rng=rng)
    app.middlewares.append(_count)
    app.on_shutdown.append(_on_shutdown)
    app.router.add_get("/", index)
    app.router.add_get(r"/sites/{i:\d+}", site)
    app.router.add_get(r"/delay/{ms:\d+}", delay)
    app.router.add_route("*", r"/status/{code:\d+}", status)
    app.router.add_get("/json", json_doc)
    app.router.add_get("/text/{charset}", text)
    app.router.add_get("/headers", headers)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get(r"/redirect/{n:\d+}", redirect)
    app.router.add_get("/redirect-to", redirect_to)
    app.router.add_get("/hang", hang)
    app.router.add_get(r"/slow-body/{ms:\d+}", slow_body)
    app.router.add_get(r"/big/{nbytes:\d+}", big)
    app.router.add_route("*", "/flaky/reset", flaky_reset)
    app.router.add_route("*", "/flaky/{key}", flaky)
    app.router.add_get("/drop", drop)
    app.router.add_route("*", "/stats", stats)
