"""The requests clients whose own test suites run with LoopBridgeAdapter: pinned, with what differs.

Each entry: the PyPI release whose sdist (with its tests) is run, the extra requirements of its
suite, the pytest arguments (its suites send real HTTP to servers on 127.0.0.1: pytest-httpbin,
``http.server`` threads, a server subprocess), and every test that passes as is and fails with
the adapter, with the reason. ``run_clients.py`` runs them; docs/http.md says what the reasons mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Client:
    """A requests client and how to run its suite."""

    name: str  # the PyPI name
    version: str  # pinned: the sdist of this release is downloaded and installed
    requirements: tuple[str, ...]  # the suite's own test requirements
    pytest_args: tuple[str, ...]
    #: test id (``classname::name``; parameters may be dropped) -> why it differs with the adapter
    expected: dict[str, str] = field(default_factory=dict)
    #: a regular expression searched in a failure's text -> why (one cause shared by many tests)
    expected_failures: dict[str, str] = field(default_factory=dict)
    #: the client's own ``HTTPAdapter`` subclasses, ``module:Class``, derived from the adapter instead
    rebase: tuple[str, ...] = ()
    cwd: str = "."  # where pytest runs, inside the unpacked sdist
    timeout: float = 900  # seconds, for one pass


_PYTEST = ("pytest>=8,<9", "pytest-timeout>=2")

#: HTTPie's tests that differed with the adapter, and why. Empty since the adapter sends bytes
#: header values as they are, honours SKIP_HEADER, strips the reason, offers
#: raw._original_response.version, raises requests' SSLError for TLS settings that cannot load,
#: keeps http.client's header limit (--max-headers) and calls the TLS hooks HTTPie overrides
#: (init_poolmanager's ssl_context for --ssl/--ciphers, cert_verify for a key's password).
_HTTPIE: dict[str, str] = {}

CLIENTS: dict[str, Client] = {client.name: client for client in (
    # Sphinx's linkcheck builder: a requests.Session subclass (sphinx.util.requests._Session)
    # checking links against http.server threads (HEAD then GET, redirects, 429 Retry-After,
    # timeouts, TLS with a self-signed certificate, proxies from the environment).
    Client(
        name="sphinx", version="8.1.3",
        requirements=(*_PYTEST, "defusedxml>=0.7.1", "typing_extensions>=4.9"),
        pytest_args=("--timeout=60", "tests/test_builders/test_build_linkcheck.py"),
        timeout=300,
    ),
    # HTTPie: a CLI on one requests.Session with adapters of its own (HTTPieHTTPAdapter keeps
    # repeated response headers in build_response; HTTPieHTTPSAdapter builds the TLS context),
    # rebased onto LoopBridgeAdapter as a migrated client would; against pytest-httpbin and
    # http.server threads. test_plugins_cli.py is left out: it pip-installs plugins (no HTTP).
    Client(
        name="httpie", version="3.2.4",
        requirements=(*_PYTEST, "pytest-httpbin==2.1.0", "httpbin~=0.10.0", "responses", "pytest-mock"),
        pytest_args=("--timeout=60", "--ignore=tests/test_plugins_cli.py", "tests", "httpie"),
        expected=_HTTPIE,
        rebase=("httpie.adapters:HTTPieHTTPAdapter", "httpie.ssl_:HTTPieHTTPSAdapter"),
        timeout=900,
    ),
    # requests-futures: FuturesSession (a Session subclass sending from a thread pool or a
    # process pool) against pytest-httpbin.
    Client(
        name="requests-futures", version="1.0.2",
        requirements=(*_PYTEST, "pytest-httpbin==2.1.0", "httpbin~=0.10.0"),
        pytest_args=("--timeout=60", "tests"),
        timeout=300,
    ),
    # CacheControl: HTTP caching for requests as an HTTPAdapter subclass (CacheControlAdapter
    # overrides send and build_response, wraps raw in a caching reader), rebased onto
    # LoopBridgeAdapter; against a cherrypy WSGI server its conftest starts on 127.0.0.1.
    Client(
        name="cachecontrol", version="0.14.2",
        requirements=(*_PYTEST, "cherrypy", "filelock>=3.8.0", "redis>=2.10.5"),
        pytest_args=("--timeout=60", "tests"),
        rebase=("cachecontrol.adapter:CacheControlAdapter",),
        expected={
            "tests.test_expires_heuristics.TestOneDayCache::test_cache_for_one_day": (
                "intermittent (2 of 9 runs): the test's first request meets 'Server disconnected' twice (aiohttp's "
                "one retry of an idempotent request included) on keep-alive connections the shared pool kept from "
                "earlier tests' Sessions, which cheroot had closed; urllib3's per-Session pools drop a connection "
                "the server closed before reusing it. Cause not pinned down; may pass"),
        },
        timeout=300,
    ),
    # python-tuf's ngclient with RequestsFetcher (its default fetcher up to 5.x): one Session per
    # scheme and host, streaming downloads with length limits, against tests/simple_server.py
    # (http.server in a subprocess) and a repository served by it.
    Client(
        name="tuf", version="5.1.0",
        requirements=(*_PYTEST, "securesystemslib[crypto]==1.1.0"),
        pytest_args=("--timeout=60", "."),
        cwd="tests",
        timeout=300,
    ),
)}
