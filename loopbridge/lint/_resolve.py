"""What the symbolic values of the index mean, across every module of the linted tree.

:class:`Project` holds the indexes of all modules and answers, with memoised dictionary
lookups, what a callee is: a catalogue entry (``requests.get``, ``sqlite3.Cursor.execute``),
a coroutine-returning API, a project function or class, or unknown. Modules that the tree
imports but that were not given on the command line are indexed on demand through a loader,
so a run over a few changed files still sees the helpers they call.

Meanings are tuples: ``("q", name)`` an outside name, ``("i", type)`` an instance,
``("pf", qualname)`` a project function, ``("pc", qualname)`` a project class,
``("pm", modname)`` a project module, ``("sup", cls)`` the ``super()`` of a class.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from ._catalogue import Catalogue, Entry
from ._index import (
    HAS_ARGS,
    NONBLOCKING,
    CallSite,
    ClassInfo,
    FunctionInfo,
    ModuleIndex,
    Value,
)

__all__ = ["Callee", "Project"]

logger = logging.getLogger(__name__)

Meaning = tuple[str, str] | None
#: A classified callee: ("block", Entry) | ("async", name) | ("coro", FunctionInfo) |
#: ("wrapper", FunctionInfo) | ("sync", FunctionInfo) | ("offload", name) | ("runner", name) |
#: ("format", name) | ("eager", name) | None
Callee = tuple[str, Any] | None

_MAX_DEPTH = 120
_LOGGER_NAME = re.compile(r"_*(?:\w+_)?(?:log|logger|logging)", re.IGNORECASE)
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical",
                          "log", "fatal"})


class Project:
    """The indexed modules of one run and the memoised meaning of their symbols."""

    def __init__(self, catalogue: Catalogue,
                 loader: Callable[[str], ModuleIndex | None] | None = None) -> None:
        self.catalogue = catalogue
        self.loader = loader
        self.modules: dict[str, ModuleIndex] = {}
        self.functions: dict[str, FunctionInfo] = {}
        self.classes: dict[str, ClassInfo] = {}
        self._missing: set[str] = set()
        self._cache: dict[Any, Meaning] = {}
        self._callee_cache: dict[Any, Callee] = {}
        self._busy: set[Any] = set()
        self._depth = 0
        self._fn_kind: dict[str, str] = {}
        cat = catalogue
        self._known = (set(cat.blocking) | cat.async_names | set(cat.returns) | cat.runners
                       | cat.offloaders | cat.sync_wrappers | cat.async_wrappers
                       | cat.not_coroutine | cat.formatters | cat.eager)

    # -- building --------------------------------------------------------------------------

    def add(self, module: ModuleIndex) -> None:
        """Register a module's index (its functions and classes become project symbols)."""
        self.modules[module.modname] = module
        self.functions.update(module.functions)
        self.classes.update(module.classes)

    def module(self, name: str) -> ModuleIndex | None:
        """Return the module ``name``, indexing it on demand through the loader."""
        found = self.modules.get(name)
        if found is not None or self.loader is None or name in self._missing:
            return found
        self._missing.add(name)
        loaded = self.loader(name)
        if loaded is not None:
            self.add(loaded)
            self.modules.setdefault(name, loaded)
        return loaded

    # -- meanings --------------------------------------------------------------------------

    def meaning(self, value: Value) -> Meaning:
        """Evaluate a symbolic value (memoised; cycles and deep chains give ``None``)."""
        if value is None:
            return None
        cache = self._cache
        if value in cache:
            return cache[value]
        if value in self._busy or self._depth > _MAX_DEPTH:
            return None
        self._busy.add(value)
        self._depth += 1
        try:
            result = self._evaluate(value)
        finally:
            self._depth -= 1
            self._busy.discard(value)
        cache[value] = result
        return result

    def _evaluate(self, value: tuple[Any, ...]) -> Meaning:
        kind = value[0]
        if kind == "n":
            return self.resolve_name(value[1])
        if kind == "a":
            return self.member(self.meaning(value[1]), value[2])
        if kind == "r":
            return self.call_result(self.meaning(value[1]))
        if kind == "t":
            found = self.meaning(value[1])
            if found is not None and found[0] in ("q", "pc"):
                return ("i", found[1])
            return None
        if kind == "s":
            return ("i", value[1])
        if kind == "sup":
            return ("sup", value[1])
        return None

    def resolve_name(self, name: str) -> Meaning:
        """Resolve a dotted global name through project modules, re-exports and aliases."""
        name = self.catalogue.canonical(name)
        if name in self._known:
            return ("q", name)
        if name in self.functions:
            return ("pf", name)
        if name in self.classes:
            return ("pc", name)
        if name in self.modules:
            return ("pm", name)
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            mod = self.module(".".join(parts[:cut]))
            if mod is None:
                continue
            return self._in_module(mod, parts[cut:], name)
        return ("q", name)

    def _in_module(self, mod: ModuleIndex, rest: list[str], name: str) -> Meaning:
        first = rest[0]
        if first in mod.bindings:
            bound = mod.bindings[first]
            if bound is None:
                return None
            if bound == ("n", name):
                found = self._project_symbol(name)
            else:
                found = self.meaning(bound)
        else:
            found = None
            for star in mod.star_imports:
                candidate = self.meaning(("n", f"{star}.{first}"))
                if candidate is not None and candidate != ("q", f"{star}.{first}"):
                    found = candidate
                    break
            if found is None:
                sub = self.module(f"{mod.modname}.{first}")
                if sub is None:
                    return ("q", name)
                found = ("pm", sub.modname)
        for attr in rest[1:]:
            found = self.member(found, attr)
        return found

    def _project_symbol(self, name: str) -> Meaning:
        if name in self.functions:
            return ("pf", name)
        if name in self.classes:
            return ("pc", name)
        return None

    def member(self, base: Meaning, attr: str) -> Meaning:
        """The meaning of ``base.attr``."""
        if base is None:
            return None
        kind, name = base
        if kind == "q" or kind == "pm":
            return self.meaning(("n", f"{name}.{attr}"))
        if kind == "i":
            return self._instance_member(name, attr)
        if kind == "pc":
            return self._class_member(name, attr, instance=False)
        if kind == "sup":
            cls = self.classes.get(name)
            if cls is None:
                return None
            for base_value in cls.bases:
                found = self.meaning(base_value)
                if found is not None and found[0] in ("pc", "q"):
                    result = self._instance_member(found[1], attr)
                    if result is not None:
                        return result
            return None
        return None

    def _instance_member(self, type_name: str, attr: str) -> Meaning:
        if type_name in self.classes:
            return self._class_member(type_name, attr, instance=True)
        attr_type = self.catalogue.attribute_type(type_name, attr)
        if attr_type is not None:
            return ("i", attr_type)
        return ("q", f"{type_name}.{attr}")

    def _class_member(self, cls_name: str, attr: str, *, instance: bool) -> Meaning:
        for cls in self.mro(cls_name):
            if isinstance(cls, str):
                return self._instance_member(cls, attr) if instance else \
                    self.meaning(("n", f"{cls}.{attr}"))
            method = cls.methods.get(attr)
            if method is not None:
                return ("pf", method)
            if attr in cls.attrs:
                value = cls.attrs[attr]
                return self.meaning(value) if value is not None else None
        return None

    def mro(self, cls_name: str) -> list[ClassInfo | str]:
        """Project classes in method-resolution order (depth first), then outside bases."""
        order: list[ClassInfo | str] = []
        seen: set[str] = set()
        outside: list[str] = []
        stack = [cls_name]
        while stack and len(seen) < 64:
            name = stack.pop(0)
            if name in seen:
                continue
            seen.add(name)
            cls = self.classes.get(name)
            if cls is None:
                continue
            order.append(cls)
            for base in cls.bases:
                found = self.meaning(base)
                if found is None:
                    continue
                if found[0] == "pc":
                    stack.append(found[1])
                elif found[0] == "q" and found[1] not in ("builtins.object",):
                    outside.append(found[1])
        return order + outside  # type: ignore[operator]

    def call_result(self, callee: Meaning) -> Meaning:
        """The meaning of the value returned by calling ``callee``."""
        if callee is None:
            return None
        kind, name = callee
        if kind == "q":
            returned = self.catalogue.returns.get(name)
            return ("i", returned) if returned is not None else None
        if kind == "pc":
            return ("i", name)
        if kind == "pf":
            fn = self.functions.get(name)
            if fn is None:
                return None
            if fn.ret_ann is not None:
                return self.meaning(fn.ret_ann)
            return self.meaning(fn.ret)
        if kind == "i":
            returned = self.catalogue.returns.get(f"{name}.__call__")
            return ("i", returned) if returned is not None else None
        return None

    # -- classification --------------------------------------------------------------------

    def callee(self, site: CallSite) -> Callee:
        """Classify what a call site invokes (memoised per symbolic target)."""
        target = site.target
        if target is None:
            return None
        cache = self._callee_cache
        if target in cache:
            return cache[target]
        result = self._classify(self.meaning(target))
        cache[target] = result
        return result

    def _classify(self, meaning: Meaning) -> Callee:
        if meaning is None:
            return None
        kind, name = meaning
        if kind == "i":
            if name in self.classes:
                return self._classify(self._class_member(name, "__call__", instance=True))
            name, kind = f"{name}.__call__", "q"
        if kind == "q":
            return self._classify_name(name)
        if kind == "pf":
            fn = self.functions[name]
            return (self.function_kind(fn), fn)
        if kind == "pc":
            init = self._class_member(name, "__init__", instance=True)
            if init is not None and init[0] == "pf":
                return ("sync", self.functions[init[1]])
            if init is not None and init[0] == "q":
                return self._classify_name(init[1].rpartition(".")[0])
        return None

    def _classify_name(self, name: str) -> Callee:
        cat = self.catalogue
        entry = cat.blocking_entry(name)
        if entry is not None:
            return ("block", entry)
        if cat.is_async(name):
            return ("async", name)
        if name in cat.offloaders:
            return ("offload", name)
        if name in cat.runners:
            return ("runner", name)
        if name in cat.formatters:
            return ("format", name)
        if name in cat.eager:
            return ("eager", name)
        return None

    def function_kind(self, fn: FunctionInfo) -> str:
        """``coro``, ``wrapper`` (sync wrapper of async), ``async`` (offloaded), or ``sync``."""
        kind = self._fn_kind.get(fn.qualname)
        if kind is not None:
            return kind
        kind = "coro" if fn.is_async else "sync"
        cat = self.catalogue
        for deco in fn.decorators:
            found = self.meaning(deco)
            if found is None or found[0] != "q":
                continue
            deco_name = found[1]
            if deco_name in cat.sync_wrappers:
                kind = "wrapper"
            elif deco_name in cat.async_wrappers:
                kind = "offloaded"
            elif fn.is_async and deco_name in cat.not_coroutine:
                kind = "other"
        if kind == "coro" and fn.has_yield:
            kind = "other"
        if fn.qualname in cat.safe and kind in ("sync", "wrapper"):
            kind = "other"
        self._fn_kind[fn.qualname] = kind
        return kind

    def is_formatter(self, site: CallSite) -> bool:
        """Whether a call only renders its arguments (print, str, a logger method)."""
        found = self.callee(site)
        if found is not None and found[0] == "format":
            return True
        return site.name in _LOG_METHODS and _LOGGER_NAME.fullmatch(site.owner) is not None

    def blocking_entry_for(self, site: CallSite) -> Entry | None:
        """The catalogue entry a site calls, unless it is called in its non-blocking form."""
        found = self.callee(site)
        if found is None or found[0] != "block":
            return None
        entry: Entry = found[1]
        if entry.nonblocking_args and site.flags & NONBLOCKING:
            return None
        if entry.only_with_args and not site.flags & HAS_ARGS:
            return None
        return entry
