#!/usr/bin/env python3
"""Write a pip constraints file that pins every runtime dependency to its declared lower bound.

CI installs the project with it into a venv of its own and runs the test suite there, so the
floors in pyproject.toml stay true: a dependency added with ``>=X`` is tested at X from then on.

    python3 .ci/lowest_constraints.py [--pyproject pyproject.toml] [--extra NAME ...] [--package NAME ...] [-o FILE]

Read: ``[project].dependencies`` and each ``[project.optional-dependencies]`` group named by
``--extra`` (the runtime extras, e.g. uvloop, server, demo; tools such as pytest or mypy stay at
their newest), and each requirement named by ``--package`` from any extra (a test library whose
floor the suite depends on, e.g. the HTTP mock libraries). Each requirement becomes ``name==<lower bound>``, its environment marker kept.
A lower bound is the highest of its ``>=``, ``~=`` and ``==`` versions. A runtime requirement
without one (bare, ``>`` only, ``==`` with a wildcard, a URL) is an error: its floor is not
declared, so it cannot be tested. Exit 0 and the file, or exit 2 with one line per problem.
Standard library only: CI runs it with the system Python before any venv exists.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

_REQUIREMENT = re.compile(
    r"""^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*
        (?:\[[^\]]*\])?\s*
        (?P<specs>[^;@]*?)\s*
        (?:;\s*(?P<marker>.+?))?\s*$""",
    re.VERBOSE,
)
_SPEC = re.compile(r"^\s*(?P<op>~=|==|!=|<=|>=|<|>|===)\s*(?P<version>[^\s,]+)\s*$")


class FloorError(ValueError):
    """A runtime requirement whose lower bound cannot be read."""


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def lower_bound(requirement: str) -> tuple[str, str, str | None]:
    """``(name, lowest version, marker or None)`` of one PEP 508 requirement string."""
    match = _REQUIREMENT.match(requirement)
    if match is None or "@" in requirement.split(";")[0]:
        raise FloorError(f"{requirement!r}: not a name with version specifiers")
    bounds: list[str] = []
    for part in filter(None, (p.strip() for p in match["specs"].strip("() ").split(","))):
        spec = _SPEC.match(part)
        if spec is None:
            raise FloorError(f"{requirement!r}: cannot read the specifier {part!r}")
        op, version = spec["op"], spec["version"]
        if op in (">=", "~=", "==", "===") and "*" not in version:
            bounds.append(version)
    if not bounds:
        raise FloorError(f"{requirement!r}: no lower bound (declare one with >=)")
    return match["name"], max(bounds, key=_version_key), match["marker"]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def constraints(pyproject: dict[str, object], extras: list[str], packages: list[str] | None = None) -> list[str]:
    """The constraint lines for the runtime dependencies, the named extras and the named
    packages (looked up in every extra), sorted by name."""
    project = pyproject.get("project")
    if not isinstance(project, dict):
        raise FloorError("pyproject.toml has no [project] table")
    requirements = list(project.get("dependencies", []))
    groups = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in groups:
            raise FloorError(f"no extra {extra!r} in [project.optional-dependencies] (have: {', '.join(sorted(groups))})")
        requirements.extend(groups[extra])
    for package in packages or []:
        found = [r for group in groups.values() for r in group
                 if (m := _REQUIREMENT.match(r)) is not None and _normal(m["name"]) == _normal(package)]
        if not found:
            raise FloorError(f"--package {package!r}: no extra in [project.optional-dependencies] requires it")
        requirements.extend(found)
    lines: dict[tuple[str, str | None], str] = {}
    problems: list[str] = []
    for requirement in requirements:
        try:
            name, version, marker = lower_bound(requirement)
        except FloorError as exc:
            problems.append(str(exc))
            continue
        key = (_normal(name), marker)
        line = f"{key[0]}=={version}" + (f"; {marker}" if marker else "")
        previous = lines.get(key)
        if previous is None or _version_key(version) > _version_key(previous.split("==")[1].split(";")[0]):
            lines[key] = line
    if problems:
        raise FloorError("\n".join(problems))
    return [lines[key] for key in sorted(lines, key=lambda k: (k[0], k[1] or ""))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path(__file__).resolve().parents[1] / "pyproject.toml")
    parser.add_argument("--extra", action="append", default=[], help="a runtime extra to include (repeatable)")
    parser.add_argument("--package", action="append", default=[],
                        help="also pin this requirement of any extra, e.g. a test library (repeatable)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="write here instead of stdout")
    args = parser.parse_args(argv)
    try:
        data = tomllib.loads(args.pyproject.read_text(encoding="utf-8"))
        lines = constraints(data, args.extra, args.package)
    except (OSError, tomllib.TOMLDecodeError, FloorError) as exc:
        for line in str(exc).splitlines():
            print(f"lowest_constraints: {line}", file=sys.stderr)
        return 2
    text = "# generated by .ci/lowest_constraints.py from pyproject.toml: each runtime floor, pinned\n"
    text += "".join(f"{line}\n" for line in lines)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
