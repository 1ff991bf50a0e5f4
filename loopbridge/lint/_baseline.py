"""Baselines: record today's findings, then report only new ones.

A finding is matched by a fingerprint of its file, code, enclosing function and what it calls
(the chain of qualified names for a transitive finding), never by its line, so code added or
moved elsewhere in the file does not wake old findings. Each fingerprint carries a count: a
second identical call added to the same function is reported.

An entry that no longer matches a finding is *stale* (the call was fixed, or the file is gone)
when the run could have seen it: its file was linted (or no longer exists) and its code was
enabled. :func:`match_baseline` tells the stale entries apart; ``--prune-baseline`` writes the
baseline back without them, leaving alone entries for files and codes the run did not check.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any, NamedTuple

from ._fileio import json_text, read_bytes, write_text
from ._model import Finding

__all__ = ["BaselineError", "BaselineMatch", "apply_baseline", "fingerprint", "load_baseline",
           "load_entries", "match_baseline", "write_baseline", "write_entries"]


_VERSION = 1


class BaselineError(ValueError):
    """The baseline file cannot be read or is not a loopbridge baseline."""


def _path_key(path: str, root: str) -> str:
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return (path if rel.startswith("..") else rel).replace(os.sep, "/")


def fingerprint(finding: Finding, root: str = ".") -> str:
    """A stable identity for a finding that ignores line and column."""
    raw = "\0".join((_path_key(finding.path, root), finding.code, finding.scope,
                     finding.key or finding.message))
    # a file name that is not valid UTF-8 hashes as its original bytes
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def write_baseline(path: str, findings: Iterable[Finding], root: str = ".") -> int:
    """Write the findings to ``path`` (JSON); return how many were recorded."""
    entries = [
        {"fingerprint": fingerprint(f, root), "path": _path_key(f.path, root), "code": f.code,
         "scope": f.scope, "key": f.key, "line": f.line, "message": f.message}
        for f in findings
    ]
    entries.sort(key=lambda e: (e["path"], e["line"], e["code"]))
    return write_entries(path, entries)


def write_entries(path: str, entries: list[dict[str, Any]]) -> int:
    """Write baseline entries (as :func:`load_entries` returns them) to ``path``."""
    document = {"tool": "loopbridge-lint", "version": _VERSION, "findings": entries}
    write_text(path, json_text(document))
    return len(entries)


def load_baseline(path: str) -> Counter[str]:
    """Read a baseline into a multiset of fingerprints.

    Raises:
        BaselineError: missing, unreadable, or not a baseline written by this tool.
    """
    return Counter(str(entry["fingerprint"]) for entry in load_entries(path))


def load_entries(path: str) -> list[dict[str, Any]]:
    """Read a baseline's entries, each a JSON object with a string ``fingerprint``.

    Raises:
        BaselineError: missing, unreadable, not a regular file, not JSON, or not a baseline
            written by this tool (every wrong shape is named, never a traceback).
    """
    try:
        document = json.loads(read_bytes(path).decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise BaselineError(f"cannot read baseline {path}: {reason}") from exc
    if not isinstance(document, dict) or document.get("tool") != "loopbridge-lint":
        raise BaselineError(f"{path} is not a loopbridge lint baseline (write one with "
                            "--write-baseline)")
    if document.get("version") != _VERSION:
        raise BaselineError(f"{path}: unsupported baseline version "
                            f"{str(document.get('version'))[:40]!r}")
    entries = document.get("findings", [])
    if not isinstance(entries, list):
        raise BaselineError(f"{path}: 'findings' must be a list of entries, not "
                            f"{type(entries).__name__}; rewrite it with --write-baseline")
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise BaselineError(f"{path}: entry {number} of 'findings' is not an object with a "
                                "string 'fingerprint'; rewrite it with --write-baseline")
    return entries


def apply_baseline(findings: Iterable[Finding], baseline: Counter[str],
                   root: str = ".") -> tuple[list[Finding], int]:
    """Split findings into the new ones (returned) and a count of those the baseline covers."""
    return _match(findings, Counter(baseline), root)


def _match(findings: Iterable[Finding], remaining: Counter[str], root: str) -> tuple[list[Finding], int]:
    """Take each finding off ``remaining`` (consumed in place) or keep it as new; ``(new, known)``."""
    new: list[Finding] = []
    known = 0
    for item in findings:
        key = fingerprint(item, root)
        if remaining[key] > 0:
            remaining[key] -= 1
            known += 1
        else:
            new.append(item)
    return new, known


class BaselineMatch(NamedTuple):
    """Findings split against a baseline's entries."""

    #: Findings the baseline does not cover (reported).
    new: list[Finding]
    #: How many findings the baseline covers.
    known: int
    #: Entries that match no finding although this run could have seen them.
    stale: list[dict[str, Any]]
    #: Every other entry, in file order: what ``--prune-baseline`` writes back.
    kept: list[dict[str, Any]]


def match_baseline(findings: Iterable[Finding], entries: list[dict[str, Any]], root: str,
                   linted: Iterable[str], enabled: frozenset[str]) -> BaselineMatch:
    """Split ``findings`` into new and known, and ``entries`` into kept and stale.

    ``linted`` are the paths of the files this run read (as findings show them) and
    ``enabled`` the codes it checked; an entry outside both is kept, never called stale.
    """
    by_key: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_key.setdefault(entry["fingerprint"], []).append(entry)
    remaining = Counter({key: len(group) for key, group in by_key.items()})
    new, known = _match(findings, remaining, root)
    seen = {_path_key(path, root) for path in linted}
    unmatched = {id(entry) for key, group in by_key.items()
                 for entry in group[len(group) - remaining[key]:]}
    stale: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for entry in entries:
        if id(entry) in unmatched and _judged(entry, seen, root, enabled):
            stale.append(entry)
        else:
            kept.append(entry)
    return BaselineMatch(new, known, stale, kept)


def _judged(entry: dict[str, Any], seen: set[str], root: str, enabled: frozenset[str]) -> bool:
    path = entry.get("path")
    if not isinstance(path, str):
        return False
    if not os.path.lexists(os.path.join(root, path)):
        return True  # the file is gone: nothing can match the entry again
    return path in seen and entry.get("code") in enabled
