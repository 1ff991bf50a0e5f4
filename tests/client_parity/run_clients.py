"""Run real requests clients' own test suites with and without LoopBridgeAdapter, and compare.

Usage: ``python tests/client_parity/run_clients.py [--workdir DIR] [--reuse] NAME...`` (names
from :data:`clients.CLIENTS`; ``all`` for every one). For each client, in ``DIR/NAME`` (a new
temporary directory by default): a virtualenv with this project, the client built from the sdist
of its pinned release (``pip download --no-binary :all:``, which has its tests) and its suite's
requirements; then both passes of ``parity.py`` inside a network namespace with only loopback
up. Installing needs the package index; the passes need nothing but loopback.

``--reuse`` keeps a virtualenv and source already in ``DIR/NAME`` (for iterating on one client).
Exit 0 when every client's differences are the expected ones, 1 otherwise, 2 on a usage or
setup error. ``python run_clients.py --compare NAME SOURCE`` is the second half, run by the
first inside the client's virtualenv.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from clients import CLIENTS, Client
from parity import Suite, compare, isolated


def _pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "pip"), "-q", "--disable-pip-version-check", *args], check=True, timeout=900)


def _unpacked_sdist(client: Client, where: Path) -> Path:
    """Download the release's sdist and unpack it; the directory it unpacked to."""
    subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "download", "--no-binary",
                    ":all:", "--no-deps", "-d", str(where), f"{client.name}=={client.version}"], check=True, timeout=600)
    archives = [p for p in where.iterdir() if p.name.endswith((".tar.gz", ".zip"))]
    if len(archives) != 1:
        raise SystemExit(f"expected one sdist of {client.name}=={client.version} in {where}, found {archives}")
    with tarfile.open(archives[0]) as tar:
        tar.extractall(where, filter="data")
    return next(p for p in where.iterdir() if p.is_dir())


def prepare(client: Client, workdir: Path, reuse: bool) -> tuple[Path, Path]:
    """The client's virtualenv and unpacked source, made (or kept, with ``reuse``)."""
    home = workdir / client.name
    venv, download = home / "venv", home / "sdist"
    if reuse and (venv / "bin" / "python").exists() and download.is_dir():
        return venv, next(p for p in download.iterdir() if p.is_dir())
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    download.mkdir(exist_ok=True)
    source = _unpacked_sdist(client, download)
    _pip(venv, "install", "-e", f"{PROJECT}[socks]", str(source), *client.requirements)
    return venv, source


def _compare(name: str, source: Path) -> int:
    client = CLIENTS[name]
    rc = isolated([__file__, "--compare", name, str(source)], timeout=3 * client.timeout)
    if rc is not None:
        return rc
    suite = Suite(f"{client.name} {client.version}'s suite", source / client.cwd, client.pytest_args,
                  client.expected, client.expected_failures, client.rebase, client.timeout)
    return compare(suite)


def main(argv: list[str]) -> int:
    """Prepare and compare each named client; print a verdict per client."""
    if argv[1:2] == ["--compare"] and len(argv) == 4 and argv[2] in CLIENTS:
        return _compare(argv[2], Path(argv[3]).resolve())
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", metavar="NAME", help=f"'all' or some of: {', '.join(CLIENTS)}")
    parser.add_argument("--workdir", type=Path, help="where the virtualenvs and sources go (default: a new temp dir)")
    parser.add_argument("--reuse", action="store_true", help="keep a virtualenv and source already in the workdir")
    args = parser.parse_args(argv[1:])
    names = list(CLIENTS) if args.names == ["all"] else args.names
    unknown = [name for name in names if name not in CLIENTS]
    if unknown:
        parser.error(f"unknown client(s) {unknown}; known: {', '.join(CLIENTS)} (or 'all')")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="client-parity-"))
    failed = []
    for name in names:
        client = CLIENTS[name]
        print(f"==== {client.name} {client.version} (in {workdir / name})", flush=True)
        started = time.monotonic()
        venv, source = prepare(client, workdir, args.reuse)
        ready = time.monotonic()
        rc = subprocess.run([str(venv / "bin" / "python"), __file__, "--compare", name, str(source)],
                            check=False, timeout=4 * client.timeout).returncode
        print(f"==== {client.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'}; setup {ready - started:.0f} s, "
              f"both passes {time.monotonic() - ready:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"clients whose suites the adapter breaks beyond the expected differences: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
