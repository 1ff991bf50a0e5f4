"""Run a requests client's test suite twice — as is, and with LoopBridgeAdapter — and compare.

The shared half of ``tests/requests_parity/run_parity.py`` (requests' own suite) and
``run_clients.py`` (other clients built on ``requests.Session``). Both passes run pytest on the
same source tree, in the interpreter running this module, inside a new network namespace where
only loopback is up (``unshare -n``, then ``ip link set lo up``; root or user namespaces needed):
a suite that aims at a public host fails the same way in both passes, and nothing leaves the
machine. The second pass loads ``loopbridge_adapter_everywhere`` (this directory), which mounts
the adapter on every Session and counts what it sent.

The verdict: 0 when the adapter breaks no test that passes without it, other than those listed
as expected with their reason, and the adapter really carried requests; 1 otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
_ISOLATED = "LOOPBRIDGE_PARITY_NETNS"


@dataclass(frozen=True)
class Suite:
    """What to run: a client's suite and the differences it is known to have."""

    label: str  # "requests' suite", "httpie 3.2.4's suite"
    source: Path  # the unpacked source tree; pytest runs there
    pytest_args: tuple[str, ...]  # what to collect, and options
    #: test id (``classname::name``, parameters dropped or not) -> why it differs
    expected: Mapping[str, str] = field(default_factory=dict)
    #: a regular expression searched in the failure's text -> why: for a cause shared by many tests
    expected_failures: Mapping[str, str] = field(default_factory=dict)
    #: ``module:Class`` HTTPAdapter subclasses of the client that derive from the adapter instead
    rebase: tuple[str, ...] = ()
    timeout: float = 900


@dataclass(frozen=True)
class Outcome:
    """One pass: the test ids that passed, failed, and the requests the adapter carried."""

    passed: frozenset[str]
    failed: frozenset[str]
    sent: int
    #: test id -> the text of its failure or error (message and traceback)
    failures: Mapping[str, str] = field(default_factory=dict)


def loopback_only() -> bool:
    """True when this process sees no network interface but loopback."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def isolated(argv: Sequence[str], timeout: float) -> int | None:
    """Re-run this script in a namespace with only loopback up; None when already there."""
    if loopback_only():
        return None
    if os.environ.get(_ISOLATED):
        print(f"the network namespace has more than loopback: {socket.if_nameindex()}; refusing to run")
        return 2
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        print("the parity runs need unshare (util-linux) and ip (iproute2) to isolate the network")
        return 2
    script = 'ip link set lo up && exec "$@"'
    cmd = ["unshare", "-n", "sh", "-c", script, "sh", sys.executable, *argv]
    return subprocess.run(cmd, check=False, env={**os.environ, _ISOLATED: "1"}, timeout=timeout).returncode


def run_suite(suite: Suite, report: Path, with_adapter: bool) -> Outcome:
    """One pytest pass over the suite; the outcome read from its junit XML."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:loopbridge",
           "-p", "no:randomly", f"--junitxml={report}"]
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    if with_adapter:
        cmd += ["-p", "loopbridge_adapter_everywhere"]
        env["LOOPBRIDGE_PARITY_REBASE"] = ",".join(suite.rebase)
    report.unlink(missing_ok=True)
    proc = subprocess.run([*cmd, *suite.pytest_args], check=False, cwd=suite.source, capture_output=True, text=True,
                          timeout=suite.timeout, env=env)
    if not report.exists():
        raise SystemExit(f"{suite.label} did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    match = re.search(r"loopbridge-adapter-requests: (\d+)", proc.stdout)
    return read_report(report, int(match.group(1)) if match else 0)


def read_report(report: Path, sent: int = 0) -> Outcome:
    """The outcome of a pass from its junit XML."""
    passed, failures = set(), {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        problem = case.find("failure")
        problem = case.find("error") if problem is None else problem
        if problem is not None:
            failures[name] = f"{problem.get('message') or ''}\n{problem.text or ''}"
        elif case.find("skipped") is None:
            passed.add(name)
    return Outcome(frozenset(passed), frozenset(failures), sent, failures)


def _explained(suite: Suite, name: str, failure: str) -> str | None:
    """The reason a test differs: listed by its id, or its failure text matches a known cause."""
    reason = suite.expected.get(name) or suite.expected.get(name.split("[", 1)[0])
    if reason is None:
        reason = next((why for pattern, why in suite.expected_failures.items() if re.search(pattern, failure)), None)
    return reason


def verdict(suite: Suite, base: Outcome, adapted: Outcome) -> int:
    """Print what differs between the passes; 0 when every difference is an expected one."""
    broken = sorted(base.passed - adapted.passed)
    reasons = {name: _explained(suite, name, adapted.failures.get(name, "")) for name in broken}
    unexpected = [name for name in broken if reasons[name] is None]
    print(f"{suite.label} as is: {len(base.passed)} passed, {len(base.failed)} failed")
    print(f"with LoopBridgeAdapter on every Session: {len(adapted.passed)} passed, {len(adapted.failed)} failed, "
          f"{adapted.sent} requests sent through the adapter")
    for name in sorted(base.failed):
        print(f"  fails without the adapter too (not ours): {name}")
    for name in sorted(adapted.passed - base.passed):
        print(f"  passes only with the adapter: {name}")
    for name in broken:
        reason = reasons[name]
        print(f"  differs, explained: {name}: {reason}" if reason else f"  BROKEN by the adapter: {name}")
    broken_ids = set(broken) | {name.split("[", 1)[0] for name in broken}
    for name in sorted(set(suite.expected) - broken_ids):
        print(f"  listed as differing but passed this time (remove it once its cause is fixed): {name}")
    tally = Counter(reason for reason in reasons.values() if reason)
    for reason, count in tally.most_common():
        print(f"  {count:4d} x {reason}")
    if unexpected:
        print(f"{len(unexpected)} test(s) broken by the adapter and not explained")
    if adapted.sent == 0:
        print("the adapter carried no request: the second pass did not test it")
    return 1 if unexpected or not base.passed or adapted.sent == 0 else 0


def compare(suite: Suite) -> int:
    """Both passes (call inside the isolated namespace), then the verdict."""
    base = run_suite(suite, suite.source / "plain.xml", with_adapter=False)
    adapted = run_suite(suite, suite.source / "loopbridge.xml", with_adapter=True)
    return verdict(suite, base, adapted)
