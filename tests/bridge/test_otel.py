"""OpenTelemetry across the bridge: one trace per request, server span -> client spans.

Runs in a subprocess (instrumentations patch Flask, requests and aiohttp for the whole process)
with the SDK's in-memory exporter: a Flask app with the Flask, requests and aiohttp-client
instrumentations, served through Flask's test client, calling a real HTTP server on 127.0.0.1
that records the ``traceparent`` header each call carried.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry import trace
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    AioHttpClientInstrumentor().instrument()   # before the loop's session exists
    RequestsInstrumentor().instrument()

    seen = []   # (path, traceparent) of every upstream call

    class Upstream(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("traceparent")))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    import requests
    from flask import Flask
    import bridge
    import bridge.http as http
    from async_core import default_loop

    app = Flask(__name__)
    app.config.update(LOOPBRIDGE_WATCHDOG_MS=100)
    bridge.LoopBridge(app)
    FlaskInstrumentor().instrument_app(app)
    session = requests.Session()
    session.mount("http://", http.LoopBridgeAdapter())

    @app.get("/get")
    def get_view():
        return {"status": http.get(base + "/get", timeout=5).status_code}

    @app.get("/map")
    def map_view():
        return {"n": len(http.map([base + f"/map/{i}" for i in range(3)], timeout=5))}

    @app.get("/adapter")
    def adapter_view():
        return {"status": session.get(base + "/adapter", timeout=5).status_code}

    @app.get("/async")
    async def async_view():
        return {"status": (await http.async_get(base + "/async", timeout=5)).status_code}

    async def blocks():
        time.sleep(0.4)   # blocks the loop: the watchdog reports a stall
        return 1

    @app.get("/stall")
    def stall_view():
        return {"x": bridge.run(blocks())}

    reports = []
    client = app.test_client()
    out = {}
    for path in ("/get", "/map", "/adapter", "/async"):
        exporter.clear()
        seen.clear()
        assert client.get(path).status_code == 200, path
        spans = [{"name": s.name, "kind": s.kind.name, "trace": f"{s.context.trace_id:032x}",
                  "span": s.context.span_id, "parent": s.parent.span_id if s.parent else None}
                 for s in exporter.get_finished_spans()]
        out[path] = {"spans": spans, "upstream": list(seen)}
    client.get("/get")   # the loop and its watchdog run
    default_loop().watchdog.add_callback(reports.append)
    exporter.clear()
    assert client.get("/stall").status_code == 200
    default_loop().watchdog.sync(5)
    server_span = [s for s in exporter.get_finished_spans() if s.kind.name == "SERVER"][0]
    out["/stall"] = {"trace": f"{server_span.context.trace_id:032x}",
                     "reports": [(r.trace_id, r.route, r.headline()) for r in reports]}
    print(json.dumps(out))
    """
)


def test_one_trace_per_request_across_the_bridge_and_stalls_name_it() -> None:
    if importlib.util.find_spec("opentelemetry.sdk") is None:  # not imported here: the subprocess instruments
        pytest.fail("the OpenTelemetry test needs loopbridge[otel] (pip install 'loopbridge[otel]'; CI installs it)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-W", "error", "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    expected_calls = {"/get": 1, "/map": 3, "/adapter": 1, "/async": 1}
    for path, calls in expected_calls.items():
        spans = out[path]["spans"]
        servers = [s for s in spans if s["kind"] == "SERVER"]
        clients = [s for s in spans if s["kind"] == "CLIENT"]
        assert len(servers) == 1, (path, spans)
        root = servers[0]
        assert {s["trace"] for s in spans} == {root["trace"]}, (path, spans)  # one trace per request
        by_id = {s["span"]: s for s in spans}

        def reaches_root(span: dict) -> bool:  # type: ignore[type-arg]
            while span["parent"] is not None and span["parent"] in by_id:
                span = by_id[span["parent"]]
            return span is root

        assert len(clients) >= calls and all(reaches_root(s) for s in clients), (path, spans)
        upstream = out[path]["upstream"]
        assert len(upstream) == calls, (path, upstream)
        # the header each upstream call carried names the request's trace: propagation, not just spans
        assert all(tp is not None and tp.split("-")[1] == root["trace"] for _, tp in upstream), (path, upstream)
    stall = out["/stall"]
    assert stall["reports"], stall
    trace_id, route, headline = stall["reports"][0]
    assert trace_id == stall["trace"] and "endpoint stall_view" in route
    assert f"trace {stall['trace']}" in headline
