"""Value objects shared by the lint engine, its rules and its output formats.

A :class:`Finding` is what a rule reports: a position, a code, a message and, for a transitive
finding, the call chain as :class:`ChainLink` items. A :class:`Rule` describes one code for the
rule reference, ``--statistics`` and SARIF. Nothing here does IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ChainLink",
    "Ctx",
    "Finding",
    "Rule",
]


class Ctx:
    """How the value of a call expression is used where it appears (small ints, kept in the index)."""

    OTHER = 0
    AWAIT = 1
    STMT = 2
    ASSIGN = 3
    COND = 4
    FORMAT = 5
    RETURN = 6
    ARG = 7
    WITH = 8
    STORE = 9
    #: The receiver of a method that adds to a container (``pending.append(...)``).
    GROW = 10
    #: A container a ``for`` loop or a comprehension iterates; the use records the name its
    #: items are bound to (or none: a mapping's keys), whose own uses then decide.
    ITER = 11
    #: Assigned to an attribute (``self.pending = ping()``): judged by the reads of that
    #: attribute name in the project.
    ATTR = 12
    #: A container handed whole to ``asyncio.gather`` (``gather(jobs)``, not ``gather(*jobs)``):
    #: gather cannot await its items.
    LISTED = 13


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One hop of a call chain: the call at ``path:line:col`` goes to ``label``."""

    path: str
    line: int
    col: int
    label: str


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One reported problem.

    ``line`` and ``col`` are 1-based. ``scope`` (the enclosing function) and ``key`` (what was
    called, without positions) identify the finding across unrelated edits, for baselines.
    """

    path: str
    line: int
    col: int
    code: str
    message: str
    chain: tuple[ChainLink, ...] = field(default=(), compare=False)
    scope: str = field(default="", compare=False)
    key: str = field(default="", compare=False)

    def render(self) -> str:
        """Return the one-line text form: ``path:line:col: CODE message``."""
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"


@dataclass(frozen=True, slots=True)
class Rule:
    """The description of one code: its short name, a summary, and the generic fix."""

    code: str
    name: str
    summary: str
    fix: str

    def __post_init__(self) -> None:
        if not (len(self.code) == 5 and self.code[:2] == "LB" and self.code[2:].isdigit()):
            raise ValueError(f"rule code {self.code!r} must look like LB123")
