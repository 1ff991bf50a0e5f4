"""Installed libraries learned from their source: real distributions installed in a temp venv.

A small chat-bot framework (``chatkit``) is written here as files, packed as a wheel and
installed by pip (offline) into a fresh virtual environment, with an async API (``Bot.send_message``, ``Message.delete``)
and a blocking one that bottoms out in ``socket`` and ``time.sleep`` through classes,
attributes and return annotations. A stub-only distribution (``fastwire-stubs``) gives a
coroutine function that exists only in a ``.pyi``. The lint is pointed at that environment and
must find the forgotten awaits (LB312) and the blocking calls with their chains (LB203), none of
which the catalogue names. Then: the cache (a warm run reuses it, a new version invalidates it,
deleting it is harmless) and a package that is missing from the environment.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopbridge.lint import LintConfig, lint_paths
from loopbridge.lint._catalogue import Catalogue, default_catalogue
from loopbridge.lint._libindex import covered_packages

_PIP_TIMEOUT = 240
#: Building venvs and installing with pip takes tens of seconds on a busy machine.
pytestmark = pytest.mark.timeout(600)

CHATKIT = {
    "pyproject.toml": """\
        [project]
        name = "chatkit"
        version = "{version}"
        """,
    "chatkit/__init__.py": """\
        from .bot import Bot, Message
        from .transport import SyncClient, backoff

        __all__ = ["Bot", "Message", "SyncClient", "backoff"]
        """,
    "chatkit/bot.py": """\
        import asyncio
        from collections.abc import Generator
        from typing import Any, Generic, TypeVar

        from .transport import SyncClient

        T = TypeVar("T")


        class BaseBot:
            async def request(self, method: str, **params: object) -> dict:
                await asyncio.sleep(0)
                return {"method": method, **params}


        class Method(Generic[T]):
            # a request object: awaiting it sends it (the shape of aiogram methods)

            def __await__(self) -> Generator[Any, None, T]:
                return asyncio.sleep(0, None).__await__()  # type: ignore[return-value]


        class EditText(Method[bool]):
            def __init__(self, text: str) -> None:
                self.text = text


        class Message:
            def __init__(self, bot: "Bot", message_id: int) -> None:
                self.bot = bot
                self.message_id = message_id

            def edit_text(self, text: str) -> EditText:
                return EditText(text)

            async def delete(self) -> bool:
                await self.bot.request("deleteMessage", message_id=self.message_id)
                return True


        class Bot(BaseBot):
            def __init__(self, host: str) -> None:
                self.host = host

            async def send_message(self, chat_id: int, text: str) -> Message:
                await self.request("sendMessage", chat_id=chat_id, text=text)
                return Message(self, 1)

            def client(self) -> SyncClient:
                return SyncClient(self.host)

            def get_me_sync(self) -> bytes:
                return self.client().exec_command("getMe")
        """,
    "chatkit/transport.py": """\
        import socket
        import time


        def backoff(attempt: int) -> None:
            time.sleep(2 ** attempt)


        class Connection:
            def __init__(self, host: str) -> None:
                self.sock = socket.socket()
                self.host = host

            def send_frame(self, data: bytes) -> None:
                self.sock.sendall(data)

            def read_frame(self) -> bytes:
                return self.sock.recv(4096)


        class SyncClient:
            def __init__(self, host: str) -> None:
                self.conn = Connection(host)

            def exec_command(self, command: str) -> bytes:
                self.conn.send_frame(command.encode())
                return self.conn.read_frame()

            def retry(self, command: str) -> bytes:
                backoff(1)
                return self.exec_command(command)
        """,
}

FASTWIRE_STUBS = {
    "pyproject.toml": """\
        [project]
        name = "fastwire-stubs"
        version = "1.0"
        """,
    "fastwire-stubs/__init__.pyi": """\
        async def push(channel: str, payload: bytes) -> None: ...
        def checksum(payload: bytes) -> int: ...
        """,
}

APP = """\
    import chatkit
    import notinstalled
    from chatkit import Bot, SyncClient
    from fastwire import checksum, push


    async def on_update(bot: Bot, chat_id: int) -> None:
        bot.send_message(chat_id, "hi")
        message = await bot.send_message(chat_id, "hello")
        message.delete()
        await message.delete()
        client = SyncClient("example.invalid")
        client.exec_command("ls")
        bot.get_me_sync()
        chatkit.backoff(3)
        push("news", b"x")
        checksum(b"x")
        notinstalled.fetch()
        message.edit_text("edited")
        await message.edit_text("edited")


    def sync_helper(bot: Bot) -> bytes:
        return bot.get_me_sync()


    async def through_helper(bot: Bot) -> bytes:
        return sync_helper(bot)
"""

#: (line, code, words the message must contain) for APP.
EXPECTED = [
    (8, "LB312", ["Bot.send_message()", "chatkit 0.1"]),
    (10, "LB312", ["Message.delete()"]),
    (13, "LB203", ["SyncClient.exec_command()", "Connection.read_frame()",
                   "socket.socket.recv", "chatkit/transport.py:18"]),
    (14, "LB203", ["Bot.get_me_sync()", "SyncClient.exec_command()", "socket.socket"]),
    (15, "LB203", ["backoff()", "time.sleep"]),
    (16, "LB312", ["push()", "fastwire-stubs 1.0"]),
    (19, "LB312", ["Message.edit_text()"]),
    (28, "LB203", ["sync_helper()", "Bot.get_me_sync()", "socket.socket"]),
]


def _write(root: Path, files: dict[str, str], **fmt: str) -> Path:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).format(**fmt) if fmt and rel.endswith(".toml")
                          else textwrap.dedent(text), encoding="utf-8")
    return root


def _pip(venv: Path, *args: str) -> None:
    """Install into ``venv`` with this interpreter's pip, offline (no index)."""
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-index", "--no-deps",
                    "--disable-pip-version-check", *args],
                   check=True, timeout=_PIP_TIMEOUT, capture_output=True)


def _wheel(source: Path) -> str:
    """Pack the files under ``source`` (but ``pyproject.toml``) into a wheel, as a build
    backend would: METADATA, WHEEL, top_level.txt and RECORD (no build tool needed)."""
    meta = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name, version = meta["name"].replace("-", "_"), meta["version"]
    info = f"{name}-{version}.dist-info"
    files = {str(p.relative_to(source)): p.read_bytes() for p in sorted(source.rglob("*"))
             if p.is_file() and p.name != "pyproject.toml" and "dist" not in p.parts}
    tops = sorted({rel.split("/")[0] for rel in files})
    files[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {meta['name']}\n"
                                 f"Version: {version}\n").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n")
    files[f"{info}/top_level.txt"] = ("\n".join(tops) + "\n").encode()
    record = [f"{rel},sha256={_digest(data)},{len(data)}" for rel, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    (source / "dist").mkdir(exist_ok=True)
    wheel = source / "dist" / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for rel, data in files.items():
            archive.writestr(rel, data)
    return str(wheel)


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _install_chatkit(venv: Path, tmp: Path, version: str) -> None:
    source = _write(tmp / f"chatkit-{version}", CHATKIT, version=version)
    _pip(venv, "--force-reinstall", _wheel(source))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with chatkit 0.1 and fastwire-stubs 1.0 installed by pip."""
    root = tmp_path_factory.mktemp("libenv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    chatkit = _wheel(_write(root / "chatkit-0.1", CHATKIT, version="0.1"))
    _pip(venv, chatkit, _wheel(_write(root / "fastwire", FASTWIRE_STUBS)))
    yield venv


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "handlers.py").write_text(textwrap.dedent(APP), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "app"


def _lint(app: Path, venv: Path, cache: Path, **more: object):  # type: ignore[no-untyped-def]
    config = LintConfig(root=str(app.parent), python=str(venv), cache_dir=str(cache), **more)  # type: ignore[arg-type]
    return lint_paths([str(app)], config)


def _check_expected(findings: list) -> None:  # type: ignore[type-arg]
    got = {(f.line, f.code): f.message for f in findings}
    assert sorted(got) == sorted((line, code) for line, code, _ in EXPECTED), \
        "\n".join(f.render() for f in findings)
    for line, code, words in EXPECTED:
        for word in words:
            assert word in got[(line, code)], (line, code, word, got[(line, code)])


def test_forgotten_awaits_and_blocking_calls_learned_from_an_installed_package(
        env: Path, app: Path, tmp_path: Path) -> None:
    result = _lint(app, env, tmp_path / "cache")
    _check_expected(result.findings)
    chain = next(f for f in result.findings if f.line == 13).chain
    assert chain[-1].path == "chatkit/transport.py" and chain[-1].label.endswith(
        "calls socket.socket.recv")


def test_without_libraries_nothing_is_learned(env: Path, app: Path, tmp_path: Path) -> None:
    result = _lint(app, env, tmp_path / "cache", libraries=False)
    assert result.findings == []
    assert not (tmp_path / "cache").exists()


def test_library_codes_can_be_ignored_apart(env: Path, app: Path, tmp_path: Path) -> None:
    result = _lint(app, env, tmp_path / "cache", ignore=("LB312",))
    assert {f.code for f in result.findings} == {"LB203"}


def test_cache_warm_run_reuses_version_bump_invalidates_delete_is_harmless(
        env: Path, app: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path / "cache"
    cold = _lint(app, env, cache)
    read, reused = cold.library_modules
    assert read >= 3 and reused == 0
    files = sorted(p.name for p in cache.rglob("*.pickle"))
    assert any(name.startswith("chatkit-0.1@") for name in files), files
    warm = _lint(app, env, cache)
    assert warm.library_modules == (0, read)
    assert [f.render() for f in warm.findings] == [f.render() for f in cold.findings]

    # a new version of the package: its modules are read again, the old file goes
    _install_chatkit(env, tmp_path_factory.mktemp("bump"), "0.2")
    try:
        _check_bumped(app, env, cache, read)
    finally:
        _install_chatkit(env, tmp_path_factory.mktemp("back"), "0.1")


def _check_bumped(app: Path, env: Path, cache: Path, read: int) -> None:
    bumped = _lint(app, env, cache)
    assert bumped.library_modules[0] >= read - 1  # the stub package is unchanged
    names = sorted(p.name for p in cache.rglob("*.pickle"))
    assert any(n.startswith("chatkit-0.2@") for n in names), names
    assert not any(n.startswith("chatkit-0.1@") for n in names), names
    assert all("chatkit 0.2" in f.message for f in bumped.findings if f.line == 8)

    # a damaged cache file and then no cache at all: the same findings, no error
    for pickled in cache.rglob("*.pickle"):
        pickled.write_bytes(b"not a pickle")
    damaged = _lint(app, env, cache)
    assert damaged.library_modules[1] == 0
    shutil.rmtree(cache)
    fresh = _lint(app, env, cache)
    assert [f.render() for f in fresh.findings] == [f.render() for f in bumped.findings]


def test_an_edited_library_file_is_read_again(env: Path, app: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _lint(app, env, cache)
    site = next(env.glob("lib/python*/site-packages"))
    transport = site / "chatkit" / "transport.py"
    original = transport.read_text(encoding="utf-8")
    try:
        transport.write_text(original.replace("return self.sock.recv(4096)", "return b''"),
                             encoding="utf-8")
        os.utime(transport, ns=(1, 1))
        again = _lint(app, env, cache)
        assert again.library_modules[0] == 1
        line13 = next(f for f in again.findings if f.line == 13)
        assert "socket.socket.sendall" in line13.message  # the other path of the chain
    finally:
        transport.write_text(original, encoding="utf-8")


def test_a_missing_package_is_unknown_not_an_error(app: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(empty)], check=True,
                   timeout=120)
    result = _lint(app, empty, tmp_path / "cache")
    assert result.findings == []
    assert result.library_modules == (0, 0)


def test_an_unparsable_library_module_is_skipped(env: Path, app: Path, tmp_path: Path) -> None:
    site = next(env.glob("lib/python*/site-packages"))
    broken = site / "chatkit" / "transport.py"
    original = broken.read_text(encoding="utf-8")
    try:
        broken.write_text("def broken(:\n", encoding="utf-8")
        result = _lint(app, env, tmp_path / "cache")
    finally:
        broken.write_text(original, encoding="utf-8")
    codes = {(f.line, f.code) for f in result.findings}
    assert (8, "LB312") in codes and (13, "LB203") not in codes


def test_command_line_python_and_cache_dir(env: Path, app: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loopbridge.lint", "--isolated", "--python",
         str(env / "bin" / "python"), "--cache-dir", str(tmp_path / "c"), str(app)],
        capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 1, out.stderr
    assert "LB203" in out.stdout and "LB312" in out.stdout
    assert "socket.socket.recv  (chatkit/transport.py:18)" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "loopbridge.lint", "--isolated", "--python",
         str(tmp_path / "nowhere" / "python"), str(app)],
        capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "could not ask the interpreter" in bad.stderr
    site = next(env.glob("lib/python*/site-packages"))
    inside = subprocess.run(
        [sys.executable, "-m", "loopbridge.lint", "--isolated", "--cache-dir",
         str(site / "cache"), str(app)], capture_output=True, text=True, timeout=120,
        check=False)
    assert inside.returncode == 2 and "inside site-packages" in inside.stderr


def test_config_names_the_environment(env: Path, app: Path, tmp_path: Path) -> None:
    (app.parent / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [tool.loopbridge.lint]
        python = "{env}"
        cache-dir = "cache"
        """), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "loopbridge.lint", "app"], cwd=app.parent,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 1 and "LB312" in out.stdout, out.stderr
    assert list((app.parent / "cache").rglob("chatkit-*.pickle"))


def test_interpreter_outside_a_venv_is_asked_for_its_path(tmp_path: Path) -> None:
    from loopbridge.lint._libindex import site_dirs

    found = site_dirs(sys.executable)
    assert found and all(os.path.basename(p) in ("site-packages", "dist-packages")
                         for p in found)


def test_catalogue_packages_stay_the_catalogues() -> None:
    covered = covered_packages(default_catalogue())
    assert {"requests", "aiohttp", "redis", "sqlalchemy"} <= covered
    assert "chatkit" not in covered and "paho" not in covered


def _real_wheels() -> Path | None:
    for place in (Path("/opt/pypi/files"),):
        if list(place.glob("aiomqtt-2.*.whl")) and list(place.glob("paho_mqtt-2.*.whl")):
            return place
    return None


def test_a_real_pypi_package_from_the_local_index(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """aiomqtt (async API) over paho-mqtt (a blocking client) as published on PyPI."""
    wheels = _real_wheels()
    if wheels is None:
        pytest.skip("the aiomqtt and paho-mqtt wheels are not in a local index here")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    _pip(venv, "--find-links", str(wheels), "aiomqtt", "paho-mqtt")
    (tmp_path / "mqtt_app.py").write_text(textwrap.dedent("""\
        import aiomqtt
        import paho.mqtt.client as mqtt


        async def main():
            async with aiomqtt.Client("broker") as client:
                client.publish("topic", b"x")
                await client.subscribe("topic")
            legacy = mqtt.Client()
            legacy.connect("broker")
        """), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = lint_paths(["mqtt_app.py"], LintConfig(root=str(tmp_path), python=str(venv),
                                                    cache_dir=str(tmp_path / "cache")))
    got = {(f.line, f.code): f.message for f in result.findings}
    assert set(got) == {(7, "LB312"), (10, "LB203")}, got
    assert "aiomqtt 2." in got[(7, "LB312")]
    assert "Client.connect()" in got[(10, "LB203")] and "socket.socket" in got[(10, "LB203")]


def test_fix_awaits_a_dropped_library_coroutine(env: Path, app: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loopbridge.lint", "--isolated", "--fix", "--python", str(env),
         "--cache-dir", str(tmp_path / "c"), str(app)],
        capture_output=True, text=True, timeout=120, check=False)
    assert "fixed 4" in out.stderr, out.stderr
    lines = (app / "handlers.py").read_text(encoding="utf-8").splitlines()
    assert lines[7].strip() == 'await bot.send_message(chat_id, "hi")'
    assert lines[9].strip() == "await message.delete()"
    assert lines[15].strip() == 'await push("news", b"x")'
    assert lines[18].strip() == 'await message.edit_text("edited")'
    assert "LB203" in out.stdout and "LB312" not in out.stdout  # the chains stay reported


def _without(catalogue: Catalogue, package: str) -> Catalogue:
    """A copy of ``catalogue`` that says nothing about ``package``."""
    def keep(name: str) -> bool:
        return name != package and not name.startswith(package + ".")

    trimmed = object.__new__(Catalogue)
    trimmed.__dict__.update(catalogue.__dict__)
    trimmed.blocking = {k: v for k, v in catalogue.blocking.items() if keep(k)}
    trimmed.returns = {k: v for k, v in catalogue.returns.items() if keep(k)}
    trimmed.attributes = {k: v for k, v in catalogue.attributes.items() if keep(k)}
    trimmed.aliases = {k: v for k, v in catalogue.aliases.items() if keep(k)}
    trimmed._alias_keys = tuple(sorted(trimmed.aliases, key=len, reverse=True))
    trimmed._type_rules = {k: v for k, v in catalogue._type_rules.items() if keep(k)}
    trimmed.async_names = {k for k in catalogue.async_names if keep(k)}
    return trimmed


def test_reading_requests_derives_what_its_catalogue_entries_say(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests is pure Python: with its catalogue entries taken out, reading its installed
    source finds every call the entries name blocking, down to a primitive. (The entries stay:
    they also give the code, LB101, the advice and the bridge.http fix.)"""
    catalogue = default_catalogue()
    names = sorted(n for n in catalogue.blocking if n.startswith("requests.")
                   and ".Response." not in n)
    assert len(names) >= 16
    calls = [f"    requests.{n.split('.', 1)[1]}(url)" if n.count(".") == 1
             else f"    session.{n.rsplit('.', 1)[1]}(url)" for n in names]
    source = "import requests\n\n\nasync def use(url):\n    session = requests.Session()\n"
    (tmp_path / "uses.py").write_text(source + "\n".join(calls) + "\n", encoding="utf-8")
    trimmed = _without(catalogue, "requests")
    assert "requests" not in covered_packages(trimmed)
    monkeypatch.setattr(LintConfig, "catalogue", lambda self: trimmed)
    monkeypatch.chdir(tmp_path)
    findings = lint_paths(["uses.py"], LintConfig(root=str(tmp_path),
                                                  cache_dir=str(tmp_path / "cache"))).findings
    by_line = {f.line: f for f in findings}
    primitives = ("socket.", "os.", "builtins.open", "ssl.", "http.client.", "select.",
                  "time.sleep", "threading.")
    for line, name in enumerate(names, start=6):
        found = by_line.get(line)
        assert found is not None and found.code == "LB203", (name, found)
        terminal = found.chain[-1].label.rpartition(" calls ")[2]
        assert terminal.startswith(primitives), (name, found.message)


def test_config_never_names_a_program_to_run(app: Path, tmp_path: Path) -> None:
    (app.parent / "pyproject.toml").write_text(
        '[tool.loopbridge.lint]\npython = "tools/python"\n', encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "loopbridge.lint", "app"], cwd=app.parent,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "is not a virtual environment" in out.stderr, out.stderr


def test_a_cache_that_cannot_be_written_is_not_an_error(env: Path, app: Path,
                                                        tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder would go", encoding="utf-8")
    result = _lint(app, env, blocker)
    _check_expected(result.findings)
