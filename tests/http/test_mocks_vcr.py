"""``vcrpy`` (which replaces urllib3's and http.client's connection classes) and ``pytest-recording``
(which drives it from a pytest mark): cassettes recorded once with stock requests against a real
local server replay, with the server gone, through the adapter and the ``bridge.http`` facade;
an unrecorded request is vcrpy's error, never a dial."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import vcr
from vcr.errors import CannotOverwriteExistingCassetteException

import bridge
import bridge.http

from .mock_support import REAL_BODY, Client, CountingServer


class Recorded:
    """A cassette recorded with stock requests; the server that answered is stopped."""

    def __init__(self, path: Path, server: CountingServer) -> None:
        self.path = path
        self.url = server.url
        self.hits_when_recorded = server.hits


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    server = CountingServer()
    path = tmp_path / "cassettes" / "recorded.yaml"
    try:
        with vcr.use_cassette(str(path)):
            assert requests.get(server.url("/json")).status_code == 200
            assert requests.post(server.url("/form"), data={"a": "1"}).status_code == 200
            assert requests.get(server.url("/missing")).status_code == 404
            assert requests.get(server.url("/redirect")).url == server.url("/landed")
            assert requests.get(server.url("/gzip")).json()["path"] == "/gzip"
    finally:
        server.stop()  # from here on, a request that escapes the cassette is refused
    yield Recorded(path, server)


def _check_json(resp: Any, url: str) -> None:
    assert resp.status_code == 200
    assert resp.json() == {**REAL_BODY, "path": "/json"}
    assert resp.headers["X-Real"] == "1"
    assert resp.headers["Content-Type"] == "application/json"
    assert (resp.cookies["a"], resp.cookies["b"]) == ("1", "2")
    assert resp.url == url


def test_replay_with_the_server_gone(client: Client, recorded: Recorded) -> None:
    assert recorded.hits_when_recorded == 6
    with vcr.use_cassette(str(recorded.path)) as cass:
        _check_json(client.get(recorded.url("/json")), recorded.url("/json"))
        form = client.post(recorded.url("/form"), data={"a": "1"})
        assert form.json() == {**REAL_BODY, "path": "/form"}
        assert client.get(recorded.url("/missing")).status_code == 404
        landed = client.get(recorded.url("/redirect"))
        assert landed.url == recorded.url("/landed")
        assert [h.status_code for h in landed.history] == [302]
        zipped = client.get(recorded.url("/gzip"))  # recorded compressed, as it came: decoded on replay
        assert zipped.json() == {**REAL_BODY, "path": "/gzip"}
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert cass.play_count == 6
        assert cass.all_played


def test_decorator_form(client: Client, recorded: Recorded) -> None:
    @vcr.use_cassette(str(recorded.path))
    def check() -> None:
        _check_json(client.get(recorded.url("/json")), recorded.url("/json"))

    check()


def test_custom_vcr_record_mode_none(client: Client, recorded: Recorded) -> None:
    my_vcr = vcr.VCR(serializer="yaml", cassette_library_dir=str(recorded.path.parent), record_mode="none",
                     match_on=["uri", "method"])
    with my_vcr.use_cassette("recorded.yaml") as cass:
        _check_json(client.get(recorded.url("/json")), recorded.url("/json"))
        assert cass.play_count == 1
        with pytest.raises(CannotOverwriteExistingCassetteException):
            client.get(recorded.url("/never-recorded"))


def test_unrecorded_request_is_vcrs_error_not_a_dial(client: Client, recorded: Recorded) -> None:
    with vcr.use_cassette(str(recorded.path)):
        with pytest.raises(CannotOverwriteExistingCassetteException):
            client.get(recorded.url("/never-recorded"))
        with pytest.raises(CannotOverwriteExistingCassetteException):
            client.post(recorded.url("/json"), data=b"x")  # recorded as a GET only


def test_streamed_replay_through_the_adapter(recorded: Recorded) -> None:
    with vcr.use_cassette(str(recorded.path)), bridge.http.Session() as session:
        resp = session.get(recorded.url("/gzip"), stream=True)
        assert b"".join(resp.iter_content(7)) == b'{"real": true, "path": "/gzip"}'


def test_map_replays_each_item(ours: Client, recorded: Recorded) -> None:
    with vcr.use_cassette(str(recorded.path)):
        results = ours.map([recorded.url("/json"), recorded.url("/missing"), recorded.url("/never-recorded")])
    _check_json(results[0], recorded.url("/json"))
    assert results[1].status_code == 404
    assert isinstance(results[2], CannotOverwriteExistingCassetteException)


def test_loop_side_async_calls_replay_through_vcrs_aiohttp_stub(recorded: Recorded) -> None:
    async def fetch() -> list[Any]:
        one = await bridge.http.async_get(recorded.url("/json"))
        many = await bridge.http.async_map([recorded.url("/missing"), recorded.url("/json"), recorded.url("/gzip")])
        return [one, *many]

    with vcr.use_cassette(str(recorded.path), allow_playback_repeats=True):
        one, missing, again, zipped = bridge.run(fetch(), timeout=30)
    assert zipped.json() == {**REAL_BODY, "path": "/gzip"}
    assert one.status_code == 200 and one.json() == {**REAL_BODY, "path": "/json"}
    assert one.headers["X-Real"] == "1"
    assert missing.status_code == 404
    assert again.json() == one.json()


def test_recording_through_ours_replays_with_stock_requests(ours: Client, tmp_path: Path) -> None:
    server = CountingServer()
    path = str(tmp_path / "ours.yaml")
    try:
        with vcr.use_cassette(path):
            assert ours.get(server.url("/json"), params={"q": "1"}).json()["real"] is True
        assert server.hits == 1
    finally:
        server.stop()
    with vcr.use_cassette(path, record_mode="none") as cass:
        assert requests.get(server.url("/json?q=1")).json() == {**REAL_BODY, "path": "/json?q=1"}
        assert cass.all_played


# -- pytest-recording ---------------------------------------------------------------------------------
_INNER = textwrap.dedent(
    """
    import os

    import pytest
    import requests
    from vcr.errors import CannotOverwriteExistingCassetteException

    import bridge.http

    URL = os.environ["MOCKS_TEST_URL"]


    @pytest.fixture
    def default_cassette_name():
        return "shared"


    @pytest.mark.vcr
    def test_record_with_requests():
        assert requests.get(URL).json()["real"] is True


    @pytest.mark.vcr
    def test_replay_adapter():
        with bridge.http.Session() as session:
            assert session.get(URL).json()["real"] is True


    @pytest.mark.vcr
    def test_replay_facade():
        resp = bridge.http.get(URL)
        assert resp.json()["real"] is True and resp.headers["X-Real"] == "1"


    @pytest.mark.vcr
    def test_replay_map():
        ok, refused = bridge.http.map([URL, URL])  # one recorded interaction: played once only
        assert ok.status_code == 200
        assert isinstance(refused, CannotOverwriteExistingCassetteException)


    @pytest.mark.vcr
    def test_replay_unrecorded_is_refused():
        with pytest.raises(CannotOverwriteExistingCassetteException):
            bridge.http.get(URL + "-not-recorded")
    """
)


def _inner_pytest(where: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=where, capture_output=True, text=True, timeout=120, env={**os.environ, "MOCKS_TEST_URL": url},
    )


def test_pytest_recording_mark_records_with_requests_and_replays_with_ours(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(_INNER)
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n")
    server = CountingServer()
    url = server.url("/json")
    try:
        rec = _inner_pytest(tmp_path, url, "--record-mode=once", "test_inner.py::test_record_with_requests")
        assert rec.returncode == 0, rec.stdout + rec.stderr
        assert server.hits == 1
    finally:
        server.stop()
    assert (tmp_path / "cassettes" / "test_inner" / "shared.yaml").is_file()
    replay = _inner_pytest(tmp_path, url, "--record-mode=none", "--block-network", "-k", "replay", "test_inner.py")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "4 passed" in replay.stdout, replay.stdout
