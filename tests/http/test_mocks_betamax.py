"""``betamax`` (which mounts its own transport adapter on the Session it is given, for the time a
cassette is in use): with ``LoopBridgeAdapter`` mounted, cassettes replay with the server gone,
record through the adapter, and ``bridge.http.map(session=)`` goes through betamax too.

The ``bridge.http`` facade has no Session a test could hand to betamax, so betamax cannot see
its calls (docs/http.md, "Testing"): code that betamax tests keeps its Session.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from betamax import Betamax
from betamax.exceptions import BetamaxError

import bridge.http
from bridge.http import LoopBridgeAdapter

from .mock_support import REAL_BODY, CountingServer


def _record_with_stock_requests(library: Path, name: str) -> tuple[CountingServer, list[str]]:
    server = CountingServer()
    urls = [server.url("/json"), server.url("/gzip"), server.url("/missing")]
    try:
        session = requests.Session()
        recorder = Betamax(session, cassette_library_dir=str(library))
        with recorder.use_cassette(name):
            assert [session.get(url).status_code for url in urls] == [200, 200, 404]
        session.close()
        assert server.hits == 3
    finally:
        server.stop()  # from here on, a request that escapes the cassette is refused
    return server, urls


def test_replay_through_a_session_with_the_adapter(tmp_path: Path) -> None:
    _, (json_url, gzip_url, missing_url) = _record_with_stock_requests(tmp_path, "our-first-recorded-session")
    with bridge.http.Session() as session:
        recorder = Betamax(session, cassette_library_dir=str(tmp_path))
        with recorder.use_cassette("our-first-recorded-session", record="none"):
            resp = session.get(json_url)
            assert resp.status_code == 200
            assert resp.json() == {**REAL_BODY, "path": "/json"}
            assert resp.headers["X-Real"] == "1"
            assert resp.cookies["a"] == "1"
            assert session.get(gzip_url).json() == {**REAL_BODY, "path": "/gzip"}
            assert session.get(missing_url).status_code == 404
            with pytest.raises(BetamaxError, match="could not be handled"):
                session.get(json_url + "-never-recorded")
        assert isinstance(session.get_adapter(json_url), LoopBridgeAdapter)  # mounted again after the cassette


def test_map_with_the_session_goes_through_betamax(tmp_path: Path) -> None:
    _, (json_url, gzip_url, missing_url) = _record_with_stock_requests(tmp_path, "mapped")
    with bridge.http.Session() as session, Betamax(session, cassette_library_dir=str(tmp_path)).use_cassette("mapped", record="none"):
        results = bridge.http.map([json_url, gzip_url, missing_url, json_url + "-never-recorded"], session=session)
    assert [r.status_code for r in results[:3]] == [200, 200, 404]
    assert results[1].json()["path"] == "/gzip"
    assert isinstance(results[3], BetamaxError)


def test_recording_goes_through_the_adapter_and_replays_with_stock_requests(tmp_path: Path) -> None:
    server = CountingServer()
    try:
        with bridge.http.Session() as session, Betamax(session, cassette_library_dir=str(tmp_path)).use_cassette("ours"):
            assert session.get(server.url("/json"), params={"q": "1"}).json()["real"] is True
        assert server.hits == 1
    finally:
        server.stop()
    with requests.Session() as stock, Betamax(stock, cassette_library_dir=str(tmp_path)).use_cassette("ours", record="none"):
        assert stock.get(server.url("/json"), params={"q": "1"}).json() == {**REAL_BODY, "path": "/json?q=1"}
