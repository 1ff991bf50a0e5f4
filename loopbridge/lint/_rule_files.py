"""LB9xx: a file that cannot be analysed becomes one finding, and the run goes on.

Reading, decoding and parsing happen here so that every way a file can fail maps to exactly
one code with the reason: too large, unreadable, not decodable, not valid Python, or too
deeply nested for the parser or the analysis.
"""

from __future__ import annotations

import ast
import codecs
import io
import re
import tokenize

from ._fileio import read_bytes
from ._model import Finding, Rule
from ._newer import parse_newer
from ._rule_base import RuleFamily

__all__ = ["FAMILY", "RULES", "FileProblem", "decode", "parse", "read", "too_complex"]

RULES = (
    Rule("LB901", "syntax-error", "the file is not valid Python for this interpreter (nor "
         "newer syntax the lint can read)",
         "fix the syntax error (or exclude the file in [tool.loopbridge.lint])"),
    Rule("LB902", "undecodable", "the file is not valid UTF-8 (or its declared encoding)",
         "save the file as UTF-8 or declare its encoding (PEP 263)"),
    Rule("LB903", "file-too-large", "the file is larger than max-file-size",
         "split the file, raise max-file-size, or exclude it"),
    Rule("LB904", "unreadable", "the file could not be read (or is not a regular file)",
         "check that it exists, is a regular file and is readable"),
    Rule("LB905", "too-complex", "the file nests too deeply to be analysed",
         "simplify the deeply nested expression"),
    Rule("LB906", "analysis-error", "the linter failed on this file (a bug in the linter)",
         "report it with the file attached; the other files were linted"),
)

#: No function checker: these findings come from reading and parsing files (see the engine).
FAMILY = RuleFamily("files", RULES, lambda project: None)

_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.MULTILINE)


class FileProblem(Exception):
    """A file that cannot be analysed; ``finding`` says why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def _problem(path: str, code: str, message: str, line: int = 1, col: int = 1) -> FileProblem:
    return FileProblem(Finding(path, max(line, 1), max(col, 1), code, message, key=code))


def read(path: str, shown: str, max_bytes: int) -> bytes:
    """Read a regular file's bytes, or raise :class:`FileProblem` (LB903, LB904)."""
    try:
        data = read_bytes(path, max_bytes + 1)
    except OSError as exc:
        raise _problem(shown, "LB904", f"cannot read the file: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise _problem(shown, "LB903", f"file is larger than max-file-size ({max_bytes} bytes); "
                       "not analysed — split it, raise max-file-size or exclude it")
    return data


def decode(data: bytes, shown: str) -> str:
    """Decode source bytes as UTF-8 or their PEP 263 encoding, or raise LB902."""
    try:
        text = data.decode("utf-8")
        return text.removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        first = exc
    head = b"\n".join(data.split(b"\n", 2)[:2])
    if _COOKIE.search(head):
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            codecs.lookup(encoding)
            return data.decode(encoding)
        except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
            raise _problem(shown, "LB902", f"cannot decode the file with its declared "
                           f"encoding: {exc}") from exc
    line = data.count(b"\n", 0, first.start) + 1
    raise _problem(shown, "LB902", f"file is not valid UTF-8 (byte {first.start}) and declares "
                   "no other encoding; save it as UTF-8", line)


def parse(text: str, shown: str) -> ast.Module:
    """Parse source text, or raise LB901 (syntax) / LB905 (nesting too deep)."""
    try:
        return ast.parse(text, shown)
    except SyntaxError as exc:
        newer = parse_newer(text, shown)  # syntax newer than this interpreter (see _newer)
        if newer is not None:
            return newer
        message = exc.msg or "invalid syntax"
        raise _problem(shown, "LB901", f"syntax error: {message}; the file is not analysed",
                       exc.lineno or 1, (exc.offset or 1)) from exc
    except ValueError as exc:
        raise _problem(shown, "LB901", f"cannot parse: {exc}; the file is not analysed") from exc
    except (RecursionError, MemoryError) as exc:
        raise too_complex(shown) from exc


def too_complex(shown: str) -> FileProblem:
    """The LB905 problem for a file too deeply nested to parse or analyse."""
    return _problem(shown, "LB905", "the file nests too deeply to be analysed; it is skipped")
