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

# -- causes issue 19 lists (§1 what the adapter sends and reads, §3 HTTP mocks): each entry goes when
# its fix lands. The entries without a § read HTTPAdapter / http.client internals and stay.
_IDLE_AFTER_CLOSE = (
    "§1 connections outlive the Session: Sphinx's linkcheck sets socket.setdefaulttimeout(5), so the test "
    "servers' sockets time out after 5 s idle; connections earlier tests' closed Sessions left in the shared "
    "pool then time out server-side, and http.server logs 'Request timed out' into the stderr this test "
    "compares (HTTPAdapter closes them with the Session); timing-dependent, so it may pass")
_BYTES_HEADERS = (
    "§1 header values given as bytes are sent as their repr (b'…'): HTTPie encodes every header value "
    "(client.finalize_headers), so Authorization, Content-Type, Accept, Host reach the server mangled (401, forms "
    "not parsed, no auto-streaming from the echoed Content-Type, the session file keeps b'…')")
_STATUS_LINE = (
    "§1 status line: HTTPie prints the HTTP version from raw._original_response.version (an HTTP/1.0 answer shows "
    "as HTTP/1.1) and the reason phrase with the whitespace http.client strips")
_TLS_CONTEXT = (
    "§1 an error while building the TLS context (a file that is not a certificate, a certificate without its key, "
    "a CA bundle that is not one, a wrong key password) escapes as ssl.SSLError, not requests' SSLError")
_SKIP_HEADER = "§1 urllib3's SKIP_HEADER: HTTPie unsets User-Agent with it; the adapter sends a User-Agent anyway"
_HTTPIE: dict[str, str] = {
    **{f"tests.{name}": _BYTES_HEADERS for name in (
        "test_auth::test_auth_plugin_netrc_parse", "test_auth::test_basic_auth", "test_auth::test_credentials_in_url",
        "test_auth::test_credentials_in_url_auth_flag_has_priority", "test_auth::test_password_prompt",
        "test_compress::test_compress_form", "test_config::test_default_options",
        "test_cookie_on_redirects::test_server_set_cookie_on_redirect_different_domain",
        "test_defaults.TestAutoContentTypeAndAcceptHeaders::test_GET_explicit_JSON_explicit_headers",
        "test_defaults.TestAutoContentTypeAndAcceptHeaders::test_GET_with_data_auto_JSON_headers",
        "test_defaults.TestAutoContentTypeAndAcceptHeaders::test_POST_explicit_JSON_JSON_ACCEPT",
        "test_defaults.TestAutoContentTypeAndAcceptHeaders::test_POST_form_Content_Type_override",
        "test_defaults.TestAutoContentTypeAndAcceptHeaders::test_POST_form_auto_Content_Type",
        "test_defaults.TestAutoContentTypeAndAcceptHeaders::test_POST_with_data_auto_JSON_headers",
        "test_defaults.TestImplicitHTTPMethod::test_implicit_GET_with_headers",
        "test_defaults.TestImplicitHTTPMethod::test_implicit_POST_form", "test_encoding::test_unicode_form_item",
        "test_encoding::test_unicode_form_item_verbose", "test_httpie::test_POST_form",
        "test_httpie::test_POST_form_multiple_values", "test_httpie::test_headers", "test_httpie::test_headers_empty_value",
        "test_httpie::test_headers_multiple_omit", "test_httpie::test_headers_multiple_values",
        "test_httpie::test_headers_multiple_values_mixed", "test_httpie::test_headers_multiple_values_repeated",
        "test_httpie::test_headers_multiple_values_with_empty", "test_httpie::test_headers_same_after_omit",
        "test_httpie::test_response_headers_multiple", "test_httpie::test_response_headers_multiple_repeated",
        "test_httpie::test_response_headers_multiple_representation",
        "test_json::test_simple_json_arguments_with_non_json",
        "test_output.TestQuietFlag::test_quiet_with_password_prompt", "test_redirects::test_follow_redirect_with_repost",
        "test_sessions.TestSession::test_session_by_path",
        "test_sessions.TestSession::test_session_default_header_value_overwritten",
        "test_sessions.TestSession::test_session_unicode", "test_sessions.TestSessionFlow::test_session_created_and_reused",
        "test_sessions.TestSessionFlow::test_session_overwrite_header", "test_sessions.TestSessionFlow::test_session_update",
        "test_sessions::test_old_session_header_layout_loading", "test_stream::test_auto_streaming",
        "test_uploads.TestRequestBodyFromFilePath::test_request_body_from_file_by_path",
        "utils.__init__::tests.utils.http",
    )},
    "tests.test_output::test_ensure_status_code_is_shown_on_all_themes": _STATUS_LINE,
    **{f"tests.test_ssl{name}": _TLS_CONTEXT for name in (
        ".TestClientCert::test_cert_file_invalid", ".TestClientCert::test_cert_ok_but_missing_key",
        ".TestServerCert::test_verify_custom_ca_bundle_invalid_bundle", "::test_password_protected_cert_cli_arg_invalid",
        "::test_password_protected_cert_prompt_invalid",
    )},
    "tests.test_httpie::test_unset_useragent_header": _SKIP_HEADER,
    "tests.test_errors::test_max_headers_limit": (
        "reads http.client internals: HTTPie's --max-headers sets http.client._MAXHEADERS, which aiohttp's parser "
        "does not read, so an answer with more headers is not refused"),
    **{f"tests.test_ssl::{name}": (
        "a urllib3 hook: HTTPie passes cert= as (file, key, key password) and hands the password to urllib3 in "
        "HTTPAdapter.cert_verify(conn, ...), which LoopBridgeAdapter does not call (it takes requests' cert= shapes: a "
        "path or (cert, key)), so loading the encrypted key fails") for name in (
        "test_password_protected_cert_prompt", "test_password_protected_cert_cli_arg")},
}
_HTTPIE_MOCKS = {
    r"this-should\.never-resolve": (
        "§3 HTTP mocks: the test fakes the server with responses (@responses.activate), which patches "
        "HTTPAdapter.send; HTTPie's adapters derive from LoopBridgeAdapter here, so the request really goes out, to a "
        "name that does not resolve in the namespace"),
}
_LINKCHECK_STDERR = {
    f"tests.test_builders.test_build_linkcheck::{name}": _IDLE_AFTER_CLOSE
    for name in ("test_follows_redirects_on_HEAD", "test_follows_redirects_on_GET",
                 "test_too_many_requests_retry_after_int_delay", "test_too_many_requests_retry_after_HTTP_date",
                 "test_too_many_requests_retry_after_without_header")
}
CLIENTS: dict[str, Client] = {client.name: client for client in (
    # Sphinx's linkcheck builder: a requests.Session subclass (sphinx.util.requests._Session)
    # checking links against http.server threads (HEAD then GET, redirects, 429 Retry-After,
    # timeouts, TLS with a self-signed certificate, proxies from the environment).
    Client(
        name="sphinx", version="8.1.3",
        requirements=(*_PYTEST, "defusedxml>=0.7.1", "typing_extensions>=4.9"),
        pytest_args=("--timeout=60", "tests/test_builders/test_build_linkcheck.py"),
        expected=_LINKCHECK_STDERR,
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
        expected=_HTTPIE, expected_failures=_HTTPIE_MOCKS,
        rebase=("httpie.adapters:HTTPieHTTPAdapter", "httpie.ssl_:HTTPieHTTPSAdapter"),
        timeout=900,
    ),
    # requests-futures: FuturesSession (a Session subclass sending from a thread pool or a
    # process pool) against pytest-httpbin.
    Client(
        name="requests-futures", version="1.0.2",
        requirements=(*_PYTEST, "pytest-httpbin==2.1.0", "httpbin~=0.10.0"),
        pytest_args=("--timeout=60", "tests"),
        expected={
            "tests.test_requests_futures.RequestsTestCase::test_adapter_kwargs": (
                "reads HTTPAdapter's private _pool_block attribute of the default adapter (urllib3 pool settings)"),
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
