"""Bad input never hangs the report nor passes for a low score: one line, exit 2.

Exit 1 is what CI reads as "below --fail-under"; a crash used to give it too. Each case runs the
real command in a subprocess with a timeout (a hang fails the test instead of freezing the run),
and the stats URLs are real sockets on 127.0.0.1 misbehaving in one way each.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import REPO, SHOP, run_report

pytestmark = pytest.mark.loopbridge_nostrict


def report_cli(*args: str, timeout: float = 60.0) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from loopbridge.cli import main; main()", "report", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False,
    )
    return done, time.monotonic() - started


def assert_one_line_exit_2(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("loopbridge report: error: "), lines
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in done.stderr


@pytest.fixture
def bad_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """A server on 127.0.0.1 that answers each connection with ``behave(conn)`` (bounded)."""
    stop = threading.Event()
    threads: list[threading.Thread] = []
    listeners: list[socket.socket] = []

    def start(behave: Callable[[socket.socket], None]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.2)
        listeners.append(listener)

        def serve() -> None:
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.settimeout(5)
                    try:
                        conn.recv(65536)
                        behave(conn)
                    except OSError:
                        pass

        thread = threading.Thread(target=serve, name="bad-stats-server", daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}/_loopbridge/stats"

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    for listener in listeners:
        listener.close()


def drip(text: bytes, stop_after: float = 20.0) -> Callable[[socket.socket], None]:
    """Send ``text`` a byte every 50 ms (each recv of the client well within any timeout)."""

    def behave(conn: socket.socket) -> None:
        end = time.monotonic() + stop_after
        for byte in text:
            if time.monotonic() > end:
                return
            conn.sendall(bytes([byte]))
            time.sleep(0.05)

    return behave


def test_a_server_dripping_its_headers_is_cut_at_one_deadline(bad_server: Callable[..., str]) -> None:
    url = bad_server(drip(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 400 + b"\r\n\r\n{}"))
    done, took = report_cli(SHOP, "--stats", url, "--stats-timeout", "1")
    assert_one_line_exit_2(done, "no complete answer within 1 s", "--stats-timeout")
    assert took < 8, took  # one deadline for the whole read, not one per byte


def test_a_server_dripping_its_body_is_cut_at_one_deadline(bad_server: Callable[..., str]) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"

    def behave(conn: socket.socket) -> None:
        conn.sendall(head)
        drip(b'{"pid": 1, "pad": "' + b"x" * 370 + b'"}')(conn)

    done, took = report_cli(SHOP, "--stats", bad_server(behave), "--stats-timeout", "1")
    assert_one_line_exit_2(done, "no complete answer within 1 s")
    assert took < 8, took


def test_an_answer_that_is_not_http_is_one_line_exit_2(bad_server: Callable[..., str]) -> None:
    url = bad_server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n"))
    done, _ = report_cli(SHOP, "--stats", url)
    assert_one_line_exit_2(done, "the answer is not HTTP", url)


def test_json_nested_100000_deep_is_one_line_exit_2(tmp_path: Path) -> None:
    stats = tmp_path / "deep.json"
    stats.write_text('{"endpoints": ' + "[" * 100_000 + "]" * 100_000 + "}")
    done, _ = report_cli(SHOP, "--stats", str(stats))
    assert_one_line_exit_2(done, "nested too deep")


def test_a_number_of_5000_digits_is_one_line_exit_2(tmp_path: Path) -> None:
    stats = tmp_path / "long.json"
    stats.write_text('{"pid": ' + "7" * 5000 + "}")
    done, _ = report_cli(SHOP, "--stats", str(stats))
    assert_one_line_exit_2(done, "not JSON the report can read", "digits")


def test_figures_too_large_to_be_counts_are_left_out_not_crashed_on(tmp_path: Path) -> None:
    stats = tmp_path / "big.json"
    endpoint = {"requests": int("9" * 400), "total_ms": 1e308 * 10, "bridged_ms": 1.0, "stalls": 0}
    stats.write_text(json.dumps({"pid": int("9" * 400), "endpoints": {"list_products": endpoint}}))
    result = run_report(SHOP, "--stats", str(stats), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["live"]["process"]["pid"] is None
    assert all(route["live"] is None for route in data["routes"])


def test_output_into_a_missing_folder_is_one_line_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "report.html"
    done, _ = report_cli(SHOP, "--format", "html", "-o", str(target))
    assert_one_line_exit_2(done, "does not exist")
    assert not target.exists()


def test_fail_under_still_exits_1_and_only_for_the_score(tmp_path: Path) -> None:
    done, _ = report_cli(SHOP, "--fail-under", "99", "-o", str(tmp_path / "r.txt"))
    assert done.returncode == 1 and "below --fail-under 99" in done.stderr


HOSTILE = '</script><!--<script>alert(1)</script>-->&'


def test_a_hostile_endpoint_name_cannot_end_the_embedded_json_early(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    figures = {"requests": 1, "total_ms": 5.0, "bridged_ms": 0.0, "stalls": 0}
    stats.write_text(json.dumps({"pid": 1, "endpoints": {HOSTILE: figures}}))
    page = run_report(SHOP, "--stats", str(stats), "--format", "html").stdout
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert match is not None
    block = match.group(1)
    assert "<!--" not in block and "</script" not in block.lower() and "<" not in block
    data = json.loads(block)  # the whole report, up to the real end of the block
    assert data["live"]["unmatched_endpoints"] == [HOSTILE]
    assert page.count('<script type="application/json"') == 1 and page.rstrip().endswith("</html>")
