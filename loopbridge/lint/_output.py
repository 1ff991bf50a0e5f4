"""Output formats: text, json, SARIF 2.1.0 (GitHub code scanning) and GitHub annotations.

Columns are 1-based. The text, json and github formats give a finding's column as the lint
measures it (UTF-8 bytes, as :mod:`ast` does) and a fix's edits in characters (code points).
SARIF counts columns in UTF-16 code units unless a run says otherwise (2.1.0, section
3.14.14 ``columnKind``, which GitHub and editors follow): the SARIF output converts every
column, of findings, chains and fixes alike, and declares ``"columnKind": "utf16CodeUnits"``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._version import DOCS_URL, __version__
from ._codes import RULES
from ._fileio import json_text, read_bytes
from ._fixes import Suggestion
from ._model import Finding

__all__ = ["FORMATS", "FORMATS_WITH_FIXES", "code_url", "render", "statistics"]


def code_url(code: str) -> str:
    """The address of a code's section in the published rule reference (docs/lint.md)."""
    return f"{DOCS_URL}lint.html#{code.lower()}"




def _text(findings: Sequence[Finding], fixes: Mapping[Finding, Suggestion]) -> str:
    return "".join(f"{f.render()}\n" for f in findings)


def _chain(finding: Finding) -> list[dict[str, Any]]:
    return [{"path": c.path, "line": c.line, "column": c.col, "label": c.label}
            for c in finding.chain]


def _fix_json(suggestion: Suggestion | None) -> dict[str, Any] | None:
    if suggestion is None:
        return None
    return {"applicability": "safe" if suggestion.fix.safe else "unsafe",
            "title": suggestion.fix.title,
            "edits": [{"path": e.path, "line": e.line, "column": e.col, "end_line": e.end_line,
                       "end_column": e.end_col, "content": e.content}
                      for e in suggestion.edits]}


def _json(findings: Sequence[Finding], fixes: Mapping[Finding, Suggestion]) -> str:
    items = [
        {"path": f.path, "line": f.line, "column": f.col, "code": f.code, "message": f.message,
         "scope": f.scope, "chain": _chain(f), "fix": _fix_json(fixes.get(f))}
        for f in findings
    ]
    return json_text({"version": 1, "findings": items})


class _Utf16Columns:
    """Converts columns to UTF-16 code units, reading each file at most once.

    A line that is pure ASCII (or that cannot be read) keeps its column: every unit counts 1.
    """

    def __init__(self) -> None:
        self._files: dict[str, list[bytes]] = {}

    def _line(self, path: str, line: int) -> bytes:
        lines = self._files.get(path)
        if lines is None:
            try:
                lines = read_bytes(path).removeprefix(b"\xef\xbb\xbf").splitlines()
            except OSError:
                lines = []
            self._files[path] = lines
        return lines[line - 1] if 0 < line <= len(lines) else b""

    def from_bytes(self, path: str, line: int, col: int) -> int:
        """A 1-based column in UTF-8 bytes (a finding's) as UTF-16 code units."""
        raw = self._line(path, line)
        if raw.isascii():
            return col
        return _utf16_len(raw[:col - 1].decode("utf-8", "replace")) + 1

    def from_chars(self, path: str, line: int, col: int) -> int:
        """A 1-based column in code points (an edit's) as UTF-16 code units."""
        raw = self._line(path, line)
        if raw.isascii():
            return col
        return _utf16_len(raw.decode("utf-8", "replace")[:col - 1]) + 1


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _location(path: str, line: int, col: int) -> dict[str, Any]:
    return {"physicalLocation": {
        "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": line, "startColumn": col},
    }}


def _sarif_fix(suggestion: Suggestion, columns: _Utf16Columns) -> dict[str, Any]:
    changes: dict[str, list[dict[str, Any]]] = {}
    for e in suggestion.edits:
        changes.setdefault(e.path, []).append({
            "deletedRegion": {"startLine": e.line,
                              "startColumn": columns.from_chars(e.path, e.line, e.col),
                              "endLine": e.end_line,
                              "endColumn": columns.from_chars(e.path, e.end_line, e.end_col)},
            "insertedContent": {"text": e.content}})
    note = "" if suggestion.fix.safe else " (unsafe: review it, see docs/lint.md)"
    return {"description": {"text": suggestion.fix.title + note},
            "artifactChanges": [{"artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
                                 "replacements": replacements}
                                for path, replacements in changes.items()]}


def _sarif(findings: Sequence[Finding], fixes: Mapping[Finding, Suggestion]) -> str:
    codes = sorted(RULES)
    index = {code: i for i, code in enumerate(codes)}
    rules = [
        {"id": code, "name": RULES[code].name,
         "shortDescription": {"text": RULES[code].summary},
         "fullDescription": {"text": f"{RULES[code].summary}. Fix: {RULES[code].fix}."},
         "help": {"text": RULES[code].fix},
         "helpUri": code_url(code),
         "defaultConfiguration": {"level": "error"}}
        for code in codes
    ]
    results = []
    columns = _Utf16Columns()
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.code, "ruleIndex": index.get(f.code, 0), "level": "error",
            "message": {"text": f.message},
            "locations": [_location(f.path, f.line, columns.from_bytes(f.path, f.line, f.col))],
            "partialFingerprints": {"loopbridgeScope/v1": f"{f.code}:{f.scope}:{f.key}"},
        }
        if f in fixes:
            result["fixes"] = [_sarif_fix(fixes[f], columns)]
        if f.chain:
            related = []
            for i, link in enumerate(f.chain):
                item = _location(link.path, link.line,
                                 columns.from_bytes(link.path, link.line, link.col))
                item["id"] = i + 1
                item["message"] = {"text": link.label}
                related.append(item)
            result["relatedLocations"] = related
        results.append(result)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "loopbridge-lint", "version": __version__,
                                "informationUri": f"{DOCS_URL}lint.html", "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": "./"}},
            "columnKind": "utf16CodeUnits",
            "results": results,
        }],
    }
    return json_text(document)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(findings: Sequence[Finding], fixes: Mapping[Finding, Suggestion]) -> str:
    lines = []
    for f in findings:
        lines.append(
            f"::error file={_escape_property(f.path)},line={f.line},col={f.col},"
            f"title={_escape_property(f.code + ' ' + RULES[f.code].name if f.code in RULES else f.code)}"
            f"::{_escape_data(f.code + ' ' + f.message)}\n"
        )
    return "".join(lines)


#: Format name -> renderer of the whole result (with the fixes, which json and sarif carry).
FORMATS: dict[str, Callable[[Sequence[Finding], Mapping[Finding, Suggestion]], str]] = {
    "text": _text, "json": _json, "sarif": _sarif, "github": _github,
}


#: The formats that carry each finding's fix as edits.
FORMATS_WITH_FIXES = frozenset({"json", "sarif"})


def render(findings: Sequence[Finding], fmt: str,
           fixes: Mapping[Finding, Suggestion] | None = None) -> str:
    """Render findings in one of :data:`FORMATS` (``fixes``: see :data:`FORMATS_WITH_FIXES`)."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    return renderer(findings, fixes or {})


def statistics(findings: Sequence[Finding]) -> str:
    """One line per code: count, code, summary (most frequent first)."""
    counts = Counter(f.code for f in findings)
    return "".join(
        f"{count:>6}  {code}  {RULES[code].summary if code in RULES else ''}\n"
        for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
