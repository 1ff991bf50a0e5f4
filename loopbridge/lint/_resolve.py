"""What the symbolic values of the index mean, across every module of the linted tree.

:class:`Project` holds the indexes of all modules and answers, with memoised dictionary
lookups, what a callee is: a catalogue entry (``requests.get``, ``sqlite3.Cursor.execute``),
a coroutine-returning API, a project function or class, or unknown. Modules that the tree
imports but that were not given on the command line are indexed on demand through a loader,
so a run over a few changed files still sees the helpers they call.

A symbol means a :class:`Meaning` (a kind and a qualified name: an outside name, an instance
of a type, a project function, class or module, or the ``super()`` of a class); a call site
invokes a :class:`Callee` (a kind, the name, and the catalogue entry or project function).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, NamedTuple

from ._catalogue import Catalogue, Entry
from ._facts import LOG_METHODS as _LOG_METHODS
from ._facts import LOGGER_NAME as _LOGGER_NAME
from ._index import (
    HAS_ARGS,
    NONBLOCKING,
    CallSite,
    ClassInfo,
    FunctionInfo,
    ModuleIndex,
    Value,
)
from ._model import Ctx

__all__ = ["Callee", "CalleeKind", "Meaning", "MeaningKind", "Project"]

#: ``outside`` a name outside the project (library or builtin), ``instance`` an instance of
#: the type named, ``function`` / ``class`` / ``module`` a project symbol, ``super`` the
#: ``super()`` of the project class named. ``generator`` the generator object and ``cm`` the
#: ``@contextmanager`` object a project function returns, ``body`` that function's body as
#: iterating or entering runs it; ``items`` a container literal and ``getter`` its ``.get``
#: (``name`` is a key of :attr:`Project.unions`), ``union`` one of several meanings.
MeaningKind = Literal["outside", "instance", "function", "class", "module", "super",
                      "generator", "cm", "body", "items", "getter", "union"]

#: Catalogue kinds (``block`` a blocking entry, ``async`` returns a coroutine, ``offload`` runs
#: its argument off the loop, ``runner`` runs a coroutine to completion, ``format`` only renders
#: its arguments, ``eager`` calls a function argument at once) and project-function kinds
#: (``coro``, ``wrapper`` a sync wrapper of async code, ``offloaded`` an async wrapper of sync
#: code, ``sync``, ``other`` a generator or an excluded function).
CalleeKind = Literal["block", "async", "offload", "runner", "format", "eager",
                     "coro", "wrapper", "offloaded", "sync", "other"]


class Meaning(NamedTuple):
    """What a symbolic value denotes once every module is indexed."""

    kind: MeaningKind
    name: str


class Callee(NamedTuple):
    """What a call site invokes: ``entry`` for ``block``, ``fn`` for a project function.

    ``alts`` are the sync project functions the call may reach when the callee is one of
    several (a dispatch table's entry, a method a subclass overrides).
    """

    kind: CalleeKind
    name: str
    entry: Entry | None = None
    fn: FunctionInfo | None = None
    alts: tuple[FunctionInfo, ...] = ()

_MAX_DEPTH = 120
#: Classes one hierarchy walk may visit (a library client can be made of hundreds of mixins).
_MAX_CLASSES = 1024
#: Decorators that make a method an attribute: ``obj.name`` is what the method returns.
_PROPERTIES = frozenset({"builtins.property", "functools.cached_property"})
#: Decorators whose function gives its first ``yield`` to ``with ... as``.
_CONTEXT_MANAGERS = frozenset({"contextlib.contextmanager", "contextlib.asynccontextmanager"})
#: Methods of a mapping that return one of its values.
_GETTERS = frozenset({"get", "pop", "setdefault", "__getitem__"})
#: Calls that run a generator handed to them to its end (or to its first item, ``next``).
_CONSUMERS = frozenset({"builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset",
                        "builtins.dict", "builtins.sorted", "builtins.sum", "builtins.any",
                        "builtins.all", "builtins.min", "builtins.max", "builtins.next"})
#: Callee kinds in the order a union of callees takes them (what blocks or must be awaited
#: first).
_UNION_ORDER = ("block", "wrapper", "runner", "coro", "offloaded", "async")


def _generic_base(value: Value) -> Value:
    """A generic base class ``Base[T]`` is ``Base``."""
    if value is not None and value[0] == "a" and value[2] == "[]":
        return value[1]  # type: ignore[no-any-return]
    return value


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
        self._cache: dict[Any, Meaning | None] = {}
        self._callee_cache: dict[Any, Callee | None] = {}
        self._busy: set[Any] = set()
        self._depth = 0
        self._fn_kind: dict[str, CalleeKind] = {}
        #: Modules read from an installed library (not the project) -> their distribution.
        self.origin: dict[str, Any] = {}
        #: Keys of ``items`` / ``getter`` / ``union`` meanings -> what they hold.
        self.unions: dict[str, tuple[Any, ...]] = {}
        self._subclasses: dict[str, list[str]] = {}
        self._self_members: dict[tuple[str, str], Meaning | None] = {}
        self._subclasses_of = -1
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

    def meaning(self, value: Value) -> Meaning | None:
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

    def _evaluate(self, value: tuple[Any, ...]) -> Meaning | None:
        kind = value[0]
        if kind == "n":
            return self.resolve_name(value[1])
        if kind == "a":
            base = value[1]
            if base[0] != "s":
                return self.member(self.meaning(base), value[2])
            # `self.m` (in method base[2]): m looked up once per class, then its overrides
            key = (base[1], value[2])
            if key in self._self_members:
                found = self._self_members[key]
            else:
                found = self._self_members[key] = self.member(Meaning("instance", base[1]),
                                                              value[2])
            if found is not None and found.kind == "function":
                return self._overridden(base[1], value[2], found,
                                        base[2] if len(base) > 2 else "")
            return found
        if kind == "d":
            items = tuple(self.meaning(item) for item in value[1])
            return self._keyed("items", (items, len(value) > 2))
        if kind == "w":
            return self._entered(self.meaning(value[1]), bool(value[2]))
        if kind == "r":
            return self.call_result(self.meaning(value[1]))
        if kind == "t":
            found = self.meaning(value[1])
            if found is None:
                return None
            if found.kind == "outside":  # an annotation names a class: what calling it makes
                return Meaning("instance", self.catalogue.returns.get(found.name, found.name))
            if found.kind == "class":
                return Meaning("instance", found.name)
            return None
        if kind == "s":
            return Meaning("instance", value[1])
        if kind == "sup":
            return Meaning("super", value[1])
        if kind == "p":
            return self.meaning(value[1])
        if kind == "c":
            found = self.meaning(value[1])
            if found is not None and found.kind in ("outside", "class"):
                shape = "{}" if len(value) > 2 else "[]"
                return Meaning("instance", f"{shape[0]}{found.name}{shape[1]}")
            return None
        return None

    def _keyed(self, kind: MeaningKind, held: tuple[Any, ...]) -> Meaning:
        key = f"{kind}{len(self.unions)}"
        self.unions[key] = held
        return Meaning(kind, key)

    def union(self, meanings: Any) -> Meaning | None:
        """One of ``meanings`` (``None`` and repeats dropped; a single one is itself)."""
        kept: list[Meaning] = []
        for found in meanings:
            if found is None:
                continue
            if found.kind == "union":
                kept.extend(m for m in self.unions[found.name] if m not in kept)
            elif found not in kept:
                kept.append(found)
        if not kept:
            return None
        if len(kept) == 1:
            return kept[0]
        return self._keyed("union", tuple(kept))

    def _entered(self, manager: Meaning | None, is_async: bool) -> Meaning | None:
        """What ``with manager as x`` binds to ``x``."""
        if manager is None:
            return None
        if manager.kind == "cm":
            fn = self.functions.get(manager.name)
            return self.meaning(fn.yielded) if fn is not None else None
        if manager.kind == "instance" and manager.name in self.classes:
            enter = self._class_member(manager.name, "__aenter__" if is_async else "__enter__",
                                       instance=True)
            if enter is not None and enter.kind == "function":
                entered = self.call_result(enter)
                # ``-> Self`` (typing's or typing_extensions'), or nothing known: the manager itself
                if entered is not None and not entered.name.endswith((".Self", "typing.Any")):
                    return entered
        return manager  # files, connections, locks: `with x as y` gives x itself

    def _overridden(self, cls_name: str, attr: str, found: Meaning, caller: str = "",
                    ) -> Meaning | None:
        """``self.attr``: the method found, or one of the subclasses' overrides of it (not
        those of a subclass that overrides ``caller`` too: there this call never runs)."""
        if len(self.classes) > self._subclasses_of:  # the classes indexed since last time
            fresh = list(self.classes.values())[max(self._subclasses_of, 0):]
            self._subclasses_of = len(self.classes)
            for info in fresh:
                for base in info.bases:
                    meant = self.meaning(base)
                    if meant is not None and meant.kind == "class":
                        self._subclasses.setdefault(meant.name, []).append(info.qualname)
        overrides: list[Meaning] = []

        def below(name: str) -> list[str]:
            """The subclasses of ``name`` that still run the calling method."""
            return [sub for sub in self._subclasses.get(name, ())
                    if sub in self.classes and caller not in self.classes[sub].methods]

        for cls in self._walk(below(cls_name), lambda info: below(info.qualname)):
            method = cls.methods.get(attr)
            if method is not None and not self._is_property(method):
                overrides.append(Meaning("function", method))
        return self.union([found, *overrides]) if overrides else found

    def resolve_name(self, name: str) -> Meaning | None:
        """Resolve a dotted global name through project modules, re-exports and aliases."""
        name = self.catalogue.canonical(name)
        if name in self._known:
            return Meaning("outside", name)
        if name in self.functions:
            return Meaning("function", name)
        if name in self.classes:
            return Meaning("class", name)
        if name in self.modules:
            return Meaning("module", name)
        typed = self.catalogue.attributes.get(name)
        if typed is not None:  # a module attribute of a known type (``sys.stdin``)
            return Meaning("instance", typed)
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            mod = self.module(".".join(parts[:cut]))
            if mod is None:
                continue
            return self._in_module(mod, parts[cut:], name)
        for cut in range(len(parts) - 1, 1, -1):  # `sys.stdin.readline`: a typed attribute
            typed = self.catalogue.attributes.get(".".join(parts[:cut]))
            if typed is not None:
                found: Meaning | None = Meaning("instance", typed)
                for attr in parts[cut:]:
                    found = self.member(found, attr)
                return found
        return Meaning("outside", name)

    def _in_module(self, mod: ModuleIndex, rest: list[str], name: str) -> Meaning | None:
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
                if candidate is not None and candidate != Meaning("outside", f"{star}.{first}"):
                    found = candidate
                    break
            if found is None:
                sub = self.module(f"{mod.modname}.{first}")
                if sub is None:
                    return Meaning("outside", name)
                found = Meaning("module", sub.modname)
        for attr in rest[1:]:
            found = self.member(found, attr)
        return found

    def _project_symbol(self, name: str) -> Meaning | None:
        if name in self.functions:
            return Meaning("function", name)
        if name in self.classes:
            return Meaning("class", name)
        return None

    def member(self, base: Meaning | None, attr: str) -> Meaning | None:
        """The meaning of ``base.attr``."""
        if base is None:
            return None
        kind, name = base
        if kind == "outside" or kind == "module":
            return self.meaning(("n", f"{name}.{attr}"))
        if kind == "instance":
            return self._instance_member(name, attr)
        if kind == "class":
            return self._class_member(name, attr, instance=False)
        if kind == "items":
            items, mapping = self.unions[name]
            if attr == "[]" or (attr == "[iter]" and not mapping):
                return self.union(items)
            return Meaning("getter", name) if mapping and attr in _GETTERS else None
        if kind == "union":
            return self.union(self.member(m, attr) for m in self.unions[name])
        if kind == "generator" and attr in ("__iter__", "__next__", "send"):
            return Meaning("body", name)
        if kind == "cm" and attr == "__enter__":
            return Meaning("body", name)
        if kind == "super":
            cls = self.classes.get(name)
            if cls is None:
                return None
            for base_value in cls.bases:
                found = self.meaning(_generic_base(base_value))
                if found is not None and found.kind in ("class", "outside"):
                    result = self._instance_member(found.name, attr)
                    if result is not None:
                        return result
            return None
        return None

    def _instance_member(self, type_name: str, attr: str) -> Meaning | None:
        if type_name.startswith(("[", "{")):
            # a container of typed items: ``x[key]`` is one, and so is each item iterated
            # over (``[iter]``) in a sequence (iterating a mapping gives its keys)
            known = attr == "[]" or (attr == "[iter]" and type_name[0] == "[")
            return Meaning("instance", type_name[1:-1]) if known else None
        if type_name in self.classes:
            return self._class_member(type_name, attr, instance=True)
        attr_type = self.catalogue.attribute_type(type_name, attr)
        if attr_type is not None:
            return Meaning("instance", attr_type)
        return Meaning("outside", f"{type_name}.{attr}")

    def _class_member(self, cls_name: str, attr: str, *, instance: bool) -> Meaning | None:
        for cls in self.mro(cls_name):
            if isinstance(cls, str):
                return self._instance_member(cls, attr) if instance else \
                    self.meaning(("n", f"{cls}.{attr}"))
            method = cls.methods.get(attr)
            if method is not None:
                if instance and self._is_property(method):
                    return self.call_result(Meaning("function", method))
                return Meaning("function", method)
            if attr in cls.attrs:
                value = cls.attrs[attr]
                return self.meaning(value) if value is not None else None
        return None

    def _returns_awaitable(self, fn: FunctionInfo) -> bool:
        """Whether ``fn`` is annotated to return an instance of a class with ``__await__``."""
        found = self.meaning(fn.ret_ann)
        if found is None or found.kind != "instance" or found.name not in self.classes:
            return False
        awaits = self._class_member(found.name, "__await__", instance=False)
        return awaits is not None and awaits.kind == "function"

    def _is_property(self, qualname: str) -> bool:
        fn = self.functions.get(qualname)
        if fn is None or not fn.decorators:
            return False
        for deco in fn.decorators:
            found = self.meaning(deco)
            if found is not None and found.name in _PROPERTIES:
                return True
        return False

    def mro(self, cls_name: str) -> Iterator[ClassInfo | str]:
        """Project classes in method-resolution order (depth first, left to right, as C3
        orders a tree of mixins), then outside bases.

        Lazy: a class's bases are resolved (and their modules read) only when the lookup gets
        to them, so a lookup that stops early reads no more than it needs (a library client
        made of dozens of mixins of one method each, every one in a module of its own).
        """
        outside: list[str] = []

        def bases(cls: ClassInfo) -> list[str]:
            found_bases: list[str] = []
            for base in cls.bases:
                found = self.meaning(_generic_base(base))
                if found is None:
                    continue
                if found.kind == "class":
                    found_bases.append(found.name)
                elif found.kind == "outside" and found.name != "builtins.object":
                    outside.append(found.name)
            return found_bases

        yield from self._visit([cls_name], bases, depth_first=True, limit=_MAX_CLASSES)
        yield from outside

    def _walk(self, start: Iterable[str], step: Callable[[ClassInfo], Iterable[str]],
              ) -> Iterator[ClassInfo]:
        """Project classes from ``start`` outwards through ``step``, breadth first, each once
        (at most 64)."""
        return self._visit(start, step, depth_first=False, limit=64)

    def _visit(self, start: Iterable[str], step: Callable[[ClassInfo], Iterable[str]], *, depth_first: bool,
               limit: int) -> Iterator[ClassInfo]:
        """Project classes from ``start`` through ``step``, each once, at most ``limit`` names.

        Depth first (the next of ``step``'s names first, in their order) or breadth first.
        ``step`` runs only when the caller asks for the next class, so a lookup that stops
        early resolves (and reads the modules of) no more classes than it needed.
        """
        pending, seen = deque(start), set[str]()
        while pending and len(seen) < limit:
            name = pending.pop() if depth_first else pending.popleft()
            if name in seen:
                continue
            seen.add(name)
            cls = self.classes.get(name)
            if cls is None:
                continue
            yield cls
            following = list(step(cls))
            pending.extend(reversed(following) if depth_first else following)

    def call_result(self, callee: Meaning | None) -> Meaning | None:
        """The meaning of the value returned by calling ``callee``."""
        if callee is None:
            return None
        kind, name = callee
        if kind == "outside":
            returned = self.catalogue.returns.get(name)
            return Meaning("instance", returned) if returned is not None else None
        if kind == "class":
            return Meaning("instance", name)
        if kind == "function":
            fn = self.functions.get(name)
            if fn is None:
                return None
            if fn.has_yield:
                for deco in fn.decorators:
                    meant = self.meaning(deco)
                    if meant is not None and meant.name in _CONTEXT_MANAGERS:
                        return Meaning("cm", name)
                return None if fn.is_async else Meaning("generator", name)
            if fn.ret_ann is not None:
                result = self.meaning(fn.ret_ann)
                owner = name.rpartition(".")[0]
                if result is not None and result.name.endswith(".Self") and owner in self.classes:
                    return Meaning("instance", owner)  # ``-> Self``: an instance of the method's class
                return result
            return self.meaning(fn.ret)
        if kind == "getter":
            return self.union(self.unions[name][0])
        if kind == "union":
            return self.union(self.call_result(m) for m in self.unions[name])
        if kind == "instance":
            returned = self.catalogue.returns.get(f"{name}.__call__")
            return Meaning("instance", returned) if returned is not None else None
        return None

    # -- classification --------------------------------------------------------------------

    def callee(self, site: CallSite) -> Callee | None:
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

    def callee_in(self, site: CallSite, fn: FunctionInfo) -> Callee | None:
        """:meth:`callee`, where a generator created as the argument of a call that
        consumes it at once (``list(rows())``, ``sum(...)``, ``"".join(...)``) runs its body
        there, as a ``for`` over it would."""
        found = self.callee(site)
        if found is None or found.kind != "other" or found.fn is None \
                or not found.fn.has_yield or found.fn.is_async or site.ctx != Ctx.ARG \
                or not 0 <= site.parent < len(fn.calls):
            return found
        consumer = fn.calls[site.parent]
        meant = self.meaning(consumer.target) if consumer.target is not None else None
        if (meant is not None and meant.name in _CONSUMERS) or (
                consumer.name == "join" and meant is None):
            if self._wrapper(found.fn) is None and self.call_result(
                    Meaning("function", found.fn.qualname)) == Meaning("generator",
                                                                         found.fn.qualname):
                return Callee("sync", found.fn.qualname, fn=found.fn)
        return found

    def _classify(self, meaning: Meaning | None) -> Callee | None:
        if meaning is None:
            return None
        kind, name = meaning
        if kind == "instance":
            if name in self.classes:
                return self._classify(self._class_member(name, "__call__", instance=True))
            return self._classify_name(f"{name}.__call__")
        if kind == "outside":
            return self._classify_name(name)
        if kind == "function":
            fn = self.functions[name]
            wrapper = self._wrapper(fn)
            if wrapper is not None:
                return self._classify(wrapper)
            return Callee(self.function_kind(fn), name, fn=fn)
        if kind == "body":  # iterating a generator, entering a @contextmanager: runs its body
            fn = self.functions[name]
            return Callee("other" if fn.is_async else "sync", name, fn=fn)
        if kind == "union":
            return self._classify_union(self.unions[name])
        if kind == "class":
            init = self._class_member(name, "__init__", instance=True)
            if init is not None and init.kind == "function":
                fn = self.functions[init.name]
                return Callee("sync", init.name, fn=fn)
            if init is not None and init.kind == "outside":
                return self._classify_name(init.name.rpartition(".")[0])
        return None

    def _classify_union(self, meanings: tuple[Meaning, ...]) -> Callee | None:
        """One of several callees: what blocks or must be awaited first, else the sync
        project functions among them (``alts``), any of which may block."""
        found = [c for c in (self._classify(m) for m in meanings) if c is not None]
        for kind in _UNION_ORDER:
            for callee in found:
                if callee.kind == kind:
                    return callee
        alts = tuple(c.fn for c in found if c.kind == "sync" and c.fn is not None)
        if alts:
            return Callee("sync", alts[0].qualname, fn=alts[0], alts=alts)
        return found[0] if found else None

    def _wrapper(self, fn: FunctionInfo) -> Meaning | None:
        """What calling ``fn`` calls when a project decorator replaced it (``@retry(3)``
        binds the name to the wrapper ``retry`` builds), else ``None``.

        A coroutine function wrapped by a plain function is taken to stay a coroutine
        function (the usual pass-through wrapper returns ``fn(*args)``).
        """
        if not fn.deco_values:
            return None
        deco = self.meaning(fn.deco_values[0])
        if deco is None or deco.kind not in ("function", "class"):
            return None
        made = self.call_result(deco)
        if made is None or made == Meaning("function", fn.qualname):
            return None
        if made.kind == "function":
            wrapper = self.functions.get(made.name)
            if wrapper is None or (fn.is_async and not wrapper.is_async):
                return None
            return made
        if made.kind == "instance" and made.name in self.classes:
            call = self._class_member(made.name, "__call__", instance=True)
            if call is not None and call.kind == "function":
                wrapper = self.functions.get(call.name)
                if wrapper is not None and not (fn.is_async and not wrapper.is_async):
                    return call
        return None

    def _classify_name(self, name: str) -> Callee | None:
        cat = self.catalogue
        entry = cat.blocking_entry(name)
        if entry is not None:
            return Callee("block", name, entry=entry)
        if cat.is_async(name):
            return Callee("async", name)
        if name in cat.offloaders:
            return Callee("offload", name)
        if name in cat.runners:
            return Callee("runner", name)
        if name in cat.formatters:
            return Callee("format", name)
        if name in cat.eager:
            return Callee("eager", name)
        return None

    def function_kind(self, fn: FunctionInfo) -> CalleeKind:
        """``coro``, ``wrapper`` (a sync wrapper of async code), ``offloaded`` (an async wrapper
        of sync code), ``sync``, or ``other`` (a generator, or a name configured as safe)."""
        known = self._fn_kind.get(fn.qualname)
        if known is not None:
            return known
        kind: CalleeKind = "coro" if fn.is_async else "sync"
        cat = self.catalogue
        for deco in fn.decorators:
            found = self.meaning(deco)
            if found is None or found.kind != "outside":
                continue
            deco_name = found.name
            if deco_name in cat.sync_wrappers:
                kind = "wrapper"
            elif deco_name in cat.async_wrappers:
                kind = "offloaded"
            elif fn.is_async and deco_name in cat.not_coroutine:
                kind = "other"
        if fn.has_yield and kind in ("coro", "sync"):
            kind = "other"  # calling a generator function creates it; its body runs later
        if kind == "sync" and fn.module.modname in self.origin and self._returns_awaitable(fn):
            kind = "coro"  # a library's sync method returning an awaitable (aiogram's methods)
        if fn.qualname in cat.safe and kind in ("sync", "wrapper"):
            kind = "other"
        self._fn_kind[fn.qualname] = kind
        return kind

    def is_formatter(self, site: CallSite) -> bool:
        """Whether a call only renders its arguments (print, str, a logger method)."""
        found = self.callee(site)
        if found is not None and found.kind == "format":
            return True
        return site.name in _LOG_METHODS and _LOGGER_NAME.fullmatch(site.owner) is not None

    def blocking_entry_for(self, site: CallSite) -> Entry | None:
        """The catalogue entry a site calls, unless it is called in its non-blocking form."""
        found = self.callee(site)
        if found is None or found.entry is None:
            return None
        entry = found.entry
        if entry.nonblocking_args and site.flags & NONBLOCKING:
            return None
        if entry.only_with_args and not site.flags & HAS_ARGS:
            return None
        return entry
