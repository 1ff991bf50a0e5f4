"""Shared helpers for the lint tests."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loopbridge.lint import Finding, LintConfig, lint_paths, lint_source

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "selflint: runs `python -m loopbridge.lint` over the project's own packages")


@pytest.fixture(autouse=True, scope="session")
def _library_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What runs learn from installed libraries is cached in a temp dir, not the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


def codes_of(findings: list[Finding]) -> list[tuple[int, str]]:
    """(line, code) pairs, in report order."""
    return [(f.line, f.code) for f in findings]


@pytest.fixture
def lint() -> Callable[[str], list[Finding]]:
    """Lint a dedented snippet as one module."""
    def run(source: str) -> list[Finding]:
        return lint_source(textwrap.dedent(source), "snippet.py")
    return run


@pytest.fixture
def lint_tree(tmp_path: Path) -> Callable[[dict[str, str]], list[Finding]]:
    """Write ``{relative path: source}`` under a temp dir and lint the whole tree."""
    def run(files: dict[str, str], **config: object) -> list[Finding]:
        for rel, source in files.items():
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(source), encoding="utf-8")
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            return lint_paths(["."], LintConfig(root=str(tmp_path), **config)).findings  # type: ignore[arg-type]
        finally:
            os.chdir(cwd)
    return run
