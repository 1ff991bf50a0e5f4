"""The catalogue of blocking calls and async-API facts, loaded from ``catalogue.toml``.

The table is data so that it can be read, reviewed and extended without touching the rules:
each blocking entry carries its code, why it blocks and what to use instead. Users add entries
(code LB109) or mark names safe through ``[tool.loopbridge.lint]``.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["USER_CODE", "Catalogue", "Entry", "default_catalogue"]


#: The code given to blocking names that users add in configuration.
USER_CODE = "LB109"


@dataclass(frozen=True, slots=True)
class Entry:
    """One blocking call: its qualified name, code, why it blocks and what to use instead."""

    name: str
    code: str
    why: str
    instead: str
    nonblocking_args: bool = False
    only_with_args: bool = False
    transitive: bool = True


@dataclass(frozen=True, slots=True)
class _TypeRule:
    code: str
    why: str
    instead: str
    except_: frozenset[str]
    only: frozenset[str]


class Catalogue:
    """Lookup tables built from the catalogue data; all lookups are dict or set probes."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.aliases: dict[str, str] = dict(data.get("aliases", {}))
        self.blocking: dict[str, Entry] = {}
        for group in data.get("blocking", ()):
            for name in group["names"]:
                self.blocking[name] = Entry(
                    name, group["code"], group["why"], group["instead"],
                    bool(group.get("nonblocking_args", False)),
                    bool(group.get("only_with_args", False)),
                    bool(group.get("transitive", True)),
                )
        self._type_rules: dict[str, _TypeRule] = {
            g["type"]: _TypeRule(
                g["code"], g["why"], g["instead"],
                frozenset(g.get("except", ())), frozenset(g.get("only", ())),
            )
            for g in data.get("blocking_types", ())
        }
        section = data.get("async", {})
        self.async_names: set[str] = set(section.get("names", ()))
        self.async_types: frozenset[str] = frozenset(section.get("types", ()))
        self.returns: dict[str, str] = dict(data.get("returns", {}))
        self.attributes: dict[str, str] = dict(data.get("attributes", {}))
        roles = data.get("roles", {})
        self.runners = frozenset(roles.get("runners", ()))
        self.offloaders = frozenset(roles.get("offloaders", ()))
        self.sync_wrappers = frozenset(roles.get("sync_wrappers", ()))
        self.async_wrappers = frozenset(roles.get("async_wrappers", ()))
        self.not_coroutine = frozenset(roles.get("not_coroutine", ()))
        self.formatters = frozenset(roles.get("formatters", ()))
        self.eager = frozenset(roles.get("eager", ()))
        self.safe: frozenset[str] = frozenset(roles.get("safe", ()))
        self._alias_keys = tuple(sorted(self.aliases, key=len, reverse=True))

    def extend(
        self,
        blocking: Mapping[str, str] | Iterable[str] = (),
        safe: Iterable[str] = (),
        async_names: Iterable[str] = (),
    ) -> Catalogue:
        """Return a copy with user entries added (code LB109), safe names and async APIs."""
        new = object.__new__(Catalogue)
        new.__dict__.update(self.__dict__)
        new.blocking = dict(self.blocking)
        items = blocking.items() if isinstance(blocking, Mapping) else ((n, "") for n in blocking)
        for name, instead in items:
            new.blocking[name] = Entry(
                name, USER_CODE, "it is listed as blocking in the project's lint configuration",
                instead or "move the call off the loop with bridge.to_async / asyncio.to_thread",
            )
        new.safe = frozenset(self.safe) | frozenset(safe)
        for name in new.safe:
            new.blocking.pop(name, None)
        new.async_names = set(self.async_names) | set(async_names)
        return new

    def canonical(self, name: str) -> str:
        """Map a name under a private module to its public spelling (``requests.api.get``)."""
        for key in self._alias_keys:
            if name.startswith(key) and (len(name) == len(key) or name[len(key)] == "."):
                return self.aliases[key] + name[len(key):]
        return name

    def blocking_entry(self, name: str) -> Entry | None:
        """Return the blocking entry for a qualified name or ``<type>.<method>``, if any."""
        entry = self.blocking.get(name)
        if entry is not None or name in self.safe:
            return entry
        type_name, _, method = name.rpartition(".")
        rule = self._type_rules.get(type_name)
        if rule is None or method.startswith("_"):
            return None
        if (rule.only and method not in rule.only) or method in rule.except_:
            return None
        return Entry(name, rule.code, rule.why, rule.instead)

    def is_async(self, name: str) -> bool:
        """Whether calling ``name`` returns a coroutine (or another must-await object)."""
        if name in self.async_names:
            return True
        type_name, _, method = name.rpartition(".")
        return type_name in self.async_types and not method.startswith("_")

    def attribute_type(self, type_name: str, attr: str) -> str | None:
        """Return the type of ``<instance of type_name>.attr`` when the catalogue knows it."""
        found = self.attributes.get(f"{type_name}.{attr}")
        if found is None:
            found = self.attributes.get(f"{type_name}.*")
        return found

    def type_names(self) -> frozenset[str]:
        """The types whose methods block (the ``[[blocking_types]]`` tables)."""
        return frozenset(self._type_rules)

    def codes(self) -> frozenset[str]:
        """Every code that a catalogue entry can produce."""
        found = {e.code for e in self.blocking.values()}
        found.update(r.code for r in self._type_rules.values())
        return frozenset(found)


@functools.lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """Load the catalogue shipped with the package (cached: it is immutable in use)."""
    text = resources.files(__package__).joinpath("catalogue.toml").read_text(encoding="utf-8")
    return Catalogue(tomllib.loads(text))
