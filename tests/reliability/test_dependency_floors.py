"""Issue 9 P: the declared dependency floors are true, and an unusable runtime never breaks the tools.

- The lower bounds in pyproject.toml are what CI installs for its second run of the suite
  (``.ci/lowest_constraints.py`` writes them as pip constraints); these tests check the generator
  and that the floors declared agree with what the code needs.
- A venv where loopbridge is installed but unused, with an asgiref or aiohttp it cannot use, still
  runs plain ``pytest`` and the ``flask`` CLI: the pytest plugin is inert and the
  ``flask.commands`` entry point imports no runtime.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from bridge import _asgiref_compat

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / ".ci" / "lowest_constraints.py"
RUNTIME_EXTRAS = ("uvloop", "server", "demo", "socks", "peers", "prometheus", "uwsgi", "otel")
RUNTIME_PACKAGES = ("async_core", "bridge", "legacy_app")


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _floor(requirement: Requirement) -> Version:
    return max(Version(s.version) for s in requirement.specifier if s.operator in (">=", "~=", "=="))


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True, text=True, timeout=60, check=False)


# -- the constraints CI installs for its lowest-versions run ----------------------------------
def test_constraints_pin_every_runtime_dependency_to_its_declared_floor() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    declared = [Requirement(r) for r in project["dependencies"]]
    for extra in RUNTIME_EXTRAS:
        declared += [Requirement(r) for r in project["optional-dependencies"][extra]]
    proc = _generate(*(f"--extra={e}" for e in RUNTIME_EXTRAS))
    assert proc.returncode == 0, proc.stderr
    pinned = {canonicalize_name(Requirement(line).name): Requirement(line)
              for line in proc.stdout.splitlines() if line and not line.startswith("#")}
    for requirement in declared:
        pin = pinned[canonicalize_name(requirement.name)]
        assert [s.operator for s in pin.specifier] == ["=="], pin
        assert Version(next(iter(pin.specifier)).version) == _floor(requirement), (requirement, pin)
        assert pin.marker == requirement.marker
    assert len(pinned) == len({canonicalize_name(r.name) for r in declared})


def test_a_dependency_added_later_is_pinned_too_and_one_without_a_floor_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(textwrap.dedent("""\
        [project]
        name = "x"
        dependencies = ["aiohttp>=3.14", "New_Dep[fast] >=1.2, <2", "pinned==0.5; python_version >= '3.11'"]
        [project.optional-dependencies]
        server = ["gunicorn~=22.1"]
        """))
    proc = _generate("--pyproject", str(pyproject), "--extra", "server")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1:] == [
        "aiohttp==3.14", "gunicorn==22.1", "new-dep==1.2", "pinned==0.5; python_version >= '3.11'",
    ]
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["aiohttp>=3.14", "floorless", "above>2"]\n')
    proc = _generate("--pyproject", str(pyproject))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "lowest_constraints: 'floorless': no lower bound (declare one with >=)",
        "lowest_constraints: 'above>2': no lower bound (declare one with >=)",
    ]


def test_ci_runs_the_suite_on_the_lowest_declared_versions() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    generate = re.search(r"lowest_constraints\.py((?: --extra \w+)+) -o \"(\$\w+)/constraints\.txt\"", script)
    assert generate is not None, "CI no longer generates the lowest constraints"
    assert sorted(generate[1].split()[1::2]) == sorted(RUNTIME_EXTRAS)
    assert f'-c "{generate[2]}/constraints.txt"' in script
    assert re.search(rf'"{re.escape(generate[2])}/venv/bin/python" -m pytest -p no:cacheprovider\s*$', script, re.MULTILINE)


# -- the floors agree with what the code needs -------------------------------------------------
def _declared_floor(name: str) -> Version:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    (requirement,) = [Requirement(r) for r in project["dependencies"] if Requirement(r).name.lower() == name]
    return _floor(requirement)


def test_the_asgiref_floor_is_the_one_the_compat_layer_supports() -> None:
    assert _declared_floor("asgiref") == Version(".".join(map(str, _asgiref_compat.MIN_ASGIREF)))


def _aiohttp_names_used() -> set[tuple[str, str]]:
    """(module, name) for every ``aiohttp.X`` attribute and ``from aiohttp... import X`` in the runtime."""
    used: set[tuple[str, str]] = set()
    for package in RUNTIME_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "aiohttp":
                    used.update((node.module, alias.name) for alias in node.names)
                elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "aiohttp":
                    used.add(("aiohttp", node.attr))
    return used


def test_the_too_old_aiohttp_message_names_the_declared_floor() -> None:
    source = (ROOT / "async_core" / "http" / "_ssrf.py").read_text(encoding="utf-8")
    floors = set(re.findall(r"aiohttp>=([\d.]+)", source))
    assert floors == {str(_declared_floor("aiohttp"))}, floors


def test_every_aiohttp_name_the_runtime_uses_exists_in_the_installed_aiohttp() -> None:
    """Run on the lowest declared aiohttp in CI: a name newer than the floor fails here, by name."""
    import aiohttp

    used = _aiohttp_names_used()
    assert ("aiohttp", "ClientSession") in used and len(used) > 10
    missing = sorted(f"{module}.{name}" for module, name in used if not hasattr(importlib.import_module(module), name))
    assert not missing, f"aiohttp {aiohttp.__version__} lacks {missing}: raise the aiohttp floor in pyproject.toml"
    assert Version(aiohttp.__version__) >= _declared_floor("aiohttp")


# -- loopbridge installed but unused, with a runtime dependency it cannot use -------------------
_BROKEN = "simulated: this release cannot be imported by loopbridge"


@pytest.fixture
def broken_runtime(tmp_path: Path) -> dict[str, str]:
    """An environment whose asgiref and aiohttp fail on import, placed ahead of the real ones."""
    fake = tmp_path / "fake"
    for name in ("asgiref", "aiohttp"):
        (fake / name).mkdir(parents=True)
        (fake / name / "__init__.py").write_text(f"raise ImportError({_BROKEN!r} + ' ({name})')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLASK", "LOOPBRIDGE"))}
    env["PYTHONPATH"] = str(fake)
    proof = subprocess.run([sys.executable, "-c", "import asgiref"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert _BROKEN in proof.stderr, "the stand-in packages do not shadow the real ones"
    return env


def test_plain_pytest_runs_with_the_plugin_loaded_and_no_runtime_imported(tmp_path: Path, broken_runtime: dict[str, str]) -> None:
    project = tmp_path / "unrelated"
    project.mkdir()
    (project / "test_unrelated.py").write_text(textwrap.dedent("""\
        import sys

        def test_nothing_of_the_runtime_was_imported(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("loopbridge")
            loaded = {"asgiref", "aiohttp", "async_core", "bridge", "flask"} & set(sys.modules)
            assert not loaded, loaded
        """))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--loopbridge-strict", "--co"],
        cwd=project, env=broken_runtime, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, env=broken_runtime, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr


def test_the_flask_cli_lists_and_helps_the_loopbridge_group(tmp_path: Path, broken_runtime: dict[str, str]) -> None:
    for args, expected in ((["--help"], "loopbridge"), (["loopbridge", "--help"], "stats")):
        proc = subprocess.run(
            [sys.executable, "-m", "flask", *args], cwd=tmp_path, env=broken_runtime,
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert expected in proc.stdout and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
