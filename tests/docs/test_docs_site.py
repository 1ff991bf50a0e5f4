"""The documentation site builds with every warning an error, and documents every public name.

The site is built once per run from ``docs/`` with Sphinx in nitpicky mode, as CI builds it;
the tests then read what it produced (its inventory of documented objects, the lint page's
anchors). A second, tiny build proves the strictness itself: a broken link fails it.
"""

from __future__ import annotations

import importlib
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PUBLIC_MODULES = ("bridge", "bridge.http", "async_core", "async_core.http", "loopbridge.lint")


def _sphinx_build(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", str(source), str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = _sphinx_build(DOCS, out)
    assert proc.returncode == 0, f"the docs site does not build cleanly:\n{proc.stdout}\n{proc.stderr}"
    return out


def _documented(site: Path) -> dict[str, str]:
    from sphinx.util.inventory import InventoryFile

    with open(site / "objects.inv", "rb") as fh:
        inventory = InventoryFile.load(fh, "", lambda base, uri: uri)
    names: dict[str, str] = {}
    for role, entries in inventory.data.items() if hasattr(inventory, "data") else inventory.items():
        if role.startswith("py:"):
            for name in entries:
                names[name] = role
    return names


def test_every_public_name_is_in_the_reference(site: Path) -> None:
    documented = _documented(site)
    by_object = {}
    for name in documented:
        module_name, _, attr = name.rpartition(".")
        try:
            by_object.setdefault(id(getattr(importlib.import_module(module_name), attr)), name)
        except (ImportError, AttributeError, ValueError):
            continue
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for attr in module.__all__:
            full = f"{module_name}.{attr}"
            obj = getattr(module, attr)
            if full in documented or (inspect.isclass(obj) or inspect.isfunction(obj)) and id(obj) in by_object:
                continue
            if inspect.ismodule(obj) and obj.__name__ in documented:
                continue
            missing.append(full)
    assert not missing, f"public names missing from docs/api/: {missing} (add them to the module's page)"


def test_every_public_class_and_function_has_a_docstring_of_its_own() -> None:
    bare = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isclass(obj):
                doc = obj.__dict__.get("__doc__")
            elif inspect.isfunction(obj) or inspect.ismodule(obj):
                doc = obj.__doc__
            else:
                continue  # data: documented on its reference page (checked above)
            if not doc or not doc.strip():
                bare.append(f"{module_name}.{attr}")
    assert not bare, f"public names without a docstring: {bare}"


def test_each_lint_code_has_its_own_anchor_and_the_lint_links_to_it(site: Path) -> None:
    from loopbridge.lint import RULES
    from loopbridge.lint._output import code_url

    page = (site / "lint.html").read_text(encoding="utf-8")
    missing = [code for code in RULES if f'id="{code.lower()}"' not in page]
    assert not missing, f"lint codes without an anchor in docs/lint.md: {missing}"
    assert code_url("LB101").endswith("lint.html#lb101")


def test_the_site_has_search_and_the_pages_in_migration_order(site: Path) -> None:
    assert (site / "search.html").is_file() and (site / "searchindex.js").is_file()
    home = (site / "index.html").read_text(encoding="utf-8")
    order = ["quickstart.html", "migrating.html", "http.html", "lint.html", "watchdog.html", "report.html",
             "deploying.html", "reliability.html", "performance.html", "architecture.html", "api/index.html", "changelog.html"]
    positions = [home.find(f'href="{page}"') for page in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions), "the navigation is not in the order a migration takes"


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    source = tmp_path / "docs"
    source.mkdir()
    shutil.copy(DOCS / "conf.py", source / "conf.py")
    (source / "index.md").write_text("# Home\n\nSee [the missing page](missing.md#nowhere).\n")
    proc = _sphinx_build(source, tmp_path / "out")
    assert proc.returncode != 0
    assert "missing.md" in proc.stderr
