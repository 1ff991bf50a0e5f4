"""Run requests' own test suite twice — as is, and with LoopBridgeAdapter on every Session — and compare.

Usage: ``python tests/requests_parity/run_parity.py REQUESTS_SOURCE_DIR`` with the interpreter of
a virtualenv that has this project and requests' test requirements (pytest, pytest-httpbin,
httpbin, trustme) installed. requests' suite serves httpbin on 127.0.0.1, but a few of its
tests aim at other addresses (a "tarpit" for connect timeouts, public hosts). So both runs
happen inside a new network namespace where only loopback is up (``unshare -n``, then
``ip link set lo up``; root or user namespaces needed): nothing can leave the machine.

Exit 0 when the adapter breaks no test that passes without it, other than those listed in
:data:`EXPECTED` with the reason, and the adapter really carried requests; 1 otherwise.
``.ci/run`` fetches the source of the installed requests version. The machinery is shared with
the other clients' runs: ``tests/client_parity/parity.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "client_parity"))

from parity import Suite, compare, isolated

_POOL_INTERNALS = ("reads HTTPAdapter's urllib3 pools (adapter.poolmanager.pools) after the requests; the TLS "
                   "behaviour it checks first (verify=False, then an SSLError with verification) passes")

#: tests that pass stock and fail with the adapter on purpose: test id (parameters dropped) -> why
EXPECTED: dict[str, str] = {
    "tests.test_requests.TestPreparingURLs::test_different_connection_pool_for_tls_settings_verify_True": _POOL_INTERNALS,
    "tests.test_requests.TestPreparingURLs::test_different_connection_pool_for_tls_settings_verify_bundle_expired_cert":
        _POOL_INTERNALS,
    "tests.test_requests.TestPreparingURLs::test_different_connection_pool_for_tls_settings_verify_bundle_unexpired_cert":
        _POOL_INTERNALS,
    "tests.test_requests.TestRequests::test_session_close_proxy_clear": (
        "patches HTTPAdapter's proxy_manager dict (urllib3 internals) and expects close() to clear it"),
}



def main(argv: list[str]) -> int:
    """Compare the two runs; print what differs."""
    if len(argv) != 2 or not (Path(argv[1]) / "tests").is_dir():
        print("usage: run_parity.py REQUESTS_SOURCE_DIR (the unpacked requests sdist, with its tests/)")
        return 2
    rc = isolated(argv, timeout=1800)
    if rc is not None:
        return rc
    return compare(Suite("requests' suite", Path(argv[1]).resolve(), ("tests",), EXPECTED))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
