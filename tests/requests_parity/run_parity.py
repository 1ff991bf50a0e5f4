"""Run requests' own test suite twice — as is, and with LoopBridgeAdapter on every Session — and compare.

Usage: ``python tests/requests_parity/run_parity.py REQUESTS_SOURCE_DIR`` with the interpreter of
a virtualenv that has this project and requests' test requirements (pytest, pytest-httpbin,
httpbin, trustme) installed. requests' suite serves httpbin on 127.0.0.1, but a few of its
tests aim at other addresses (a "tarpit" for connect timeouts, public hosts). So both runs
happen inside a new network namespace where only loopback is up (``unshare -n``, then
``ip link set lo up``; root or user namespaces needed): nothing can leave the machine.

Exit 0 when the adapter breaks no test that passes without it, other than those listed in
:data:`EXPECTED` with the reason, and the adapter really carried requests; 1 otherwise.
``.ci/run`` fetches the source of the installed requests version.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
_ISOLATED = "LOOPBRIDGE_PARITY_NETNS"

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


def _explained(name: str) -> str | None:
    return EXPECTED.get(name) or EXPECTED.get(name.split("[", 1)[0])


def _loopback_only() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def _reexec_isolated(argv: list[str]) -> int:
    """Run this script again in a new network namespace with only loopback up."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        print("run_parity.py needs unshare (util-linux) and ip (iproute2) to isolate the network")
        return 2
    script = 'ip link set lo up && exec "$@"'
    cmd = ["unshare", "-n", "sh", "-c", script, "sh", sys.executable, *argv]
    return subprocess.run(cmd, env={**os.environ, _ISOLATED: "1"}, timeout=1800).returncode


def _run_suite(source: Path, report: Path, with_adapter: bool) -> tuple[set[str], set[str], int]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:loopbridge",
           "-p", "no:randomly", f"--junitxml={report}"]
    if with_adapter:
        cmd += ["-p", "loopbridge_adapter_everywhere"]
    proc = subprocess.run([*cmd, "tests"], cwd=source, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(HERE)})
    if not report.exists():
        raise SystemExit(f"requests' suite did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    passed, failed = set(), set()
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(name)
        elif case.find("skipped") is None:
            passed.add(name)
    match = re.search(r"loopbridge-adapter-requests: (\d+)", proc.stdout)
    return passed, failed, int(match.group(1)) if match else 0


def main(argv: list[str]) -> int:
    """Compare the two runs; print what differs."""
    if len(argv) != 2 or not (Path(argv[1]) / "tests").is_dir():
        print("usage: run_parity.py REQUESTS_SOURCE_DIR (the unpacked requests sdist, with its tests/)")
        return 2
    if not _loopback_only():
        if os.environ.get(_ISOLATED):
            print(f"the network namespace has more than loopback: {socket.if_nameindex()}; refusing to run")
            return 2
        return _reexec_isolated(argv)
    source = Path(argv[1]).resolve()
    base_pass, base_fail, _ = _run_suite(source, source / "plain.xml", with_adapter=False)
    ad_pass, ad_fail, sent = _run_suite(source, source / "loopbridge.xml", with_adapter=True)
    broken = sorted(base_pass - ad_pass)
    unexpected = [name for name in broken if _explained(name) is None]
    print(f"requests' suite as is: {len(base_pass)} passed, {len(base_fail)} failed")
    print(f"with LoopBridgeAdapter on every Session: {len(ad_pass)} passed, {len(ad_fail)} failed, "
          f"{sent} requests sent through the adapter")
    for name in sorted(base_fail):
        print(f"  fails without the adapter too (not ours): {name}")
    for name in sorted(ad_pass - base_pass):
        print(f"  passes only with the adapter: {name}")
    for name in broken:
        if _explained(name) is not None:
            print(f"  differs, explained: {name}: {_explained(name)}")
        else:
            print(f"  BROKEN by the adapter: {name}")
    for name in sorted(set(EXPECTED) - {n.split("[", 1)[0] for n in broken} - set(broken)):
        print(f"  listed as differing but passes now (remove it from EXPECTED): {name}")
    if unexpected or not base_pass or sent == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
