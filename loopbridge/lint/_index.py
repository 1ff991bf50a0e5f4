"""One walk over a module's syntax tree that builds everything the rules need.

The walk records, per function, every call with a *symbolic* value for its callee (``("n",
"requests.get")``, ``("a", ("s", "pkg.Client"), "get")`` ...) and how the call's result is used
(:class:`~loopbridge.lint._model.Ctx`). Names are resolved through imports, aliases and local
assignments here; what a symbol finally means (a project function, a catalogue entry, an
instance of a type) is decided later by :mod:`loopbridge.lint._resolve`, once every module is
indexed. The tree itself is not kept, so memory stays proportional to the facts, not the code.

Values are plain tuples so that they hash and compare cheaply:

``("n", dotted)``     a global name (module attribute, import target, project symbol)
``("a", V, attr)``    attribute ``attr`` of value V (``"[]"`` for a subscript)
``("r", V)``          the result of calling V
``("t", V)``          an instance of the type named by V (from an annotation)
``("s", cls)``        the instance ``self`` of project class ``cls``
``("sup", cls)``      ``super()`` inside class ``cls``
``("p", V)``          ``functools.partial(V, ...)`` or a one-call lambda: calls V, with
                      arguments bound in advance
``("c", V)``          a sequence (``list[V]``) whose items are instances of V
``("c", V, "{}")``    a mapping (``dict[str, V]``) whose values are instances of V

Values stay plain tuples (not named tuples) because the walk builds one per name and attribute
it meets and they are hashed as dictionary keys at every lookup: a tuple is the cheapest key.
This module is one cohesive thing, the single pass with its statement and expression tables,
and is kept whole although it is longer than the others.
"""

from __future__ import annotations

import ast
from typing import Any

from ._facts import (
    ARG0,
    ARG1,
    GUARDED,
    HAS_ARGS,
    LOG_METHODS,
    LOGGER_NAME,
    NONBLOCKING,
    PASSED,
    CallSite,
    ClassInfo,
    FunctionInfo,
    ModuleIndex,
    Value,
    noqa_comments,
    parse_noqa,
)
from ._model import Ctx

__all__ = ["GROW_METHODS", "GUARDED", "HAS_ARGS", "NONBLOCKING", "CallSite", "ClassInfo",
           "FunctionInfo", "ModuleIndex", "Value", "annotation_value", "index_module",
           "noqa_comments", "parse_noqa"]


#: Methods that add an item to a container (the receiver keeps, but does not use, the item).
GROW_METHODS = frozenset({"append", "extend", "insert", "add", "appendleft", "setdefault"})
_CONTAINERS = (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.SetComp,
               ast.DictComp, ast.GeneratorExp)

_STOP_KEYWORDS = {"block": False, "blocking": False, "wait": False, "timeout": 0}
#: Tests that ask what type an argument is: the branches under them are guarded.
_TYPE_TESTS = frozenset({"isinstance", "hasattr", "callable", "issubclass"})
#: Calls whose truth means "debug mode is on".
_DEBUG_CALLS = frozenset({"get_debug", "isEnabledFor"})
#: Higher-order functions (by the name they are called by) whose function arguments are
#: recorded as calls; the catalogue's ``eager`` role decides whether those run at once.
_EAGER_NAMES = frozenset({"map", "filter", "sorted", "max", "min", "reduce"})
#: Wrappers whose result stands for their first argument (``with closing(conn) as c:``).
_SAME_AS_FIRST = frozenset({"contextlib.closing", "contextlib.nullcontext", "functools.partial",
                            "builtins.staticmethod", "builtins.classmethod", "csv.reader",
                            "csv.DictReader", "csv.writer", "csv.DictWriter"})
#: Readers and writers of a file object, by name -> (position of the file argument, the file
#: method they call on it): ``json.load(fh)`` reads ``fh`` as ``fh.read()`` would.
_STREAM_FUNCTIONS = {
    "json.load": (0, "read"), "json.dump": (1, "write"), "pickle.load": (0, "read"),
    "pickle.dump": (1, "write"), "marshal.load": (0, "read"), "marshal.dump": (1, "write"),
    "tomllib.load": (0, "read"), "plistlib.load": (0, "read"), "plistlib.dump": (1, "write"),
    "yaml.load": (0, "read"), "yaml.safe_load": (0, "read"), "yaml.full_load": (0, "read"),
    "yaml.unsafe_load": (0, "read"), "yaml.load_all": (0, "read"),
    "yaml.safe_load_all": (0, "read"), "yaml.dump": (1, "write"), "yaml.safe_dump": (1, "write"),
    "yaml.dump_all": (1, "write"), "yaml.safe_dump_all": (1, "write"),
}
#: Builtins that only render their arguments.
_RENDERERS = frozenset({("n", "builtins.print"), ("n", "builtins.str"), ("n", "builtins.repr"),
                        ("n", "builtins.format")})
#: In-memory files: what works on them does no IO.
_IN_MEMORY_VALUE = ("r", ("n", "io.BytesIO"))
#: Calls that work on the file object they are given (the first argument, ``fileobj=`` or
#: ``file=``; ``shutil.copyfileobj`` on both of its first two).
_ON_FILE_OBJECTS = frozenset({"zipfile.ZipFile", "tarfile.open", "tarfile.TarFile",
                              "hashlib.file_digest", "gzip.GzipFile", "shutil.copyfileobj"})
#: Method names that hand a coroutine on or end it (``c.close()``): not a use as a value.
_HANDS_ON = frozenset({"close", "send", "throw", "__await__"})
#: Contexts of a container literal whose items nobody can reach afterwards.
_LOST_CONTAINER = frozenset({Ctx.STMT, Ctx.COND, Ctx.FORMAT})


def index_module(tree: ast.Module, modname: str, path: str, is_package: bool) -> ModuleIndex:
    """Walk ``tree`` once and return its :class:`ModuleIndex`."""
    module = ModuleIndex(modname, path, is_package)
    walker = _Walker(module)
    try:
        walker.run(tree)
    finally:
        walker.close()
    module.attr_names = " " + " ".join(sorted(module.attr_loads)) + " "
    module.attr_loads = set()
    return module


def annotation_value(node: Any, walker_value: Any) -> Value:
    """Turn an annotation into ``("t", V)``; unwraps ``Optional``, ``X | None``, strings."""
    if node is None:
        return None
    kind = type(node)
    if kind is ast.Constant and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except (SyntaxError, ValueError, RecursionError):
            return None
        return annotation_value(node, walker_value)
    if kind is ast.BinOp and isinstance(node.op, ast.BitOr):
        left = node.left
        if type(left) is ast.Constant and left.value is None:
            return annotation_value(node.right, walker_value)
        return annotation_value(left, walker_value)
    if kind is ast.Subscript:
        head = walker_value(node.value)
        item = _container_item(head, node.slice)
        if item is not None:
            item_type = annotation_value(item, walker_value)
            if item_type is None or item_type[0] != "t":
                return None
            return ("c", item_type[1], "{}") if type(node.slice) is ast.Tuple \
                else ("c", item_type[1])
        if head and head[0] == "n" and head[1] in ("typing.Optional", "typing.Annotated",
                                                   "typing_extensions.Annotated"):
            inner = node.slice
            if type(inner) is ast.Tuple and inner.elts:
                inner = inner.elts[0]
            return annotation_value(inner, walker_value)
        if head and head[0] == "n" and head[1].rpartition(".")[2] not in _NOT_INSTANCES:
            return annotation_value(node.value, walker_value)  # `IO[str]` is an IO
        return None
    if kind is ast.Name or kind is ast.Attribute:
        value = walker_value(node)
        return ("t", value) if value is not None else None
    return None


#: Calls that take a callable and call it later, by the name written (method or function),
#: and the positional index of that callable; its keyword names are in _CALLABLE_KEYWORDS.
#: Which callee a name really is gets checked by the rule (``_rule_lost``).
_CALLABLE_POSITION = {
    "call_soon": 0, "call_soon_threadsafe": 0, "add_done_callback": 0, "submit": 0,
    "register": 0, "to_thread": 0, "call_later": 1, "call_at": 1, "add_signal_handler": 1,
    "add_reader": 1, "add_writer": 1, "run_in_executor": 1, "signal": 1, "Timer": 1,
    "Thread": 1,
}
_CALLABLE_KEYWORDS = frozenset({"target", "callback", "function", "fn", "func"})

_TYPE = 1
_DEBUG = 2
#: Arms of a conditional block: an ``if``'s two branches, and an ``except`` handler (which
#: may not run at all).
_THEN, _ELSE, _MAYBE = 0, 1, 2
#: Subscripted annotations that do not name what an instance is (``type[X]`` is a class).
_NOT_INSTANCES = frozenset({"type", "Type", "Callable", "Literal", "Union", "ClassVar", "Final",
                            "Optional", "Annotated", "TypeGuard", "TypeIs", "Unpack", "Required",
                            "NotRequired", "ReadOnly", "Concatenate"})
#: Container annotations: the index of the item type among the subscript's arguments.
_MAPPINGS = frozenset({"dict", "Dict", "Mapping", "MutableMapping", "defaultdict",
                       "DefaultDict", "OrderedDict"})
_SEQUENCES = frozenset({"list", "List", "Sequence", "MutableSequence", "deque", "Deque"})


def _container_item(head: Value, index: Any) -> Any:
    """The node of the item type of ``dict[K, V]`` / ``list[V]`` annotations, else ``None``."""
    if head is None or head[0] != "n":
        return None
    last = head[1].rpartition(".")[2]
    if last in _MAPPINGS and type(index) is ast.Tuple and len(index.elts) == 2:
        return index.elts[1]
    if last in _SEQUENCES and type(index) is not ast.Tuple:
        return index
    return None


def _guard_kind(test: Any) -> int:
    """``_TYPE`` for a test on an argument's type (both branches are guarded), ``_DEBUG`` for
    a debug-mode test (its body is guarded), else 0."""
    kind = type(test)
    if kind is ast.UnaryOp and type(test.op) is ast.Not:
        return _guard_kind(test.operand)
    if kind is ast.BoolOp:
        found = 0
        for value in test.values:
            found = found or _guard_kind(value)
        return found
    if kind is ast.Call:
        func = test.func
        if type(func) is ast.Name and func.id in _TYPE_TESTS:
            return _TYPE
        if type(func) is ast.Attribute and func.attr in _DEBUG_CALLS:
            return _DEBUG
        if type(func) is ast.Attribute and func.attr in ("startswith", "endswith") \
                and type(func.value) is ast.Name:
            return _DEBUG  # `if src.startswith("data:"):` what runs depends on the argument
        return 0
    if kind is ast.Name:
        return _DEBUG if test.id == "__debug__" or "debug" in test.id.lower() else 0
    if kind is ast.Attribute:
        return _DEBUG if "debug" in test.attr.lower() else 0
    return 0


def _in_memory(value: Value) -> bool:
    """Whether ``value`` is a new ``io.BytesIO`` / ``io.StringIO`` (compared without hashing)."""
    return value is not None and value[0] == "r" and value[1][0] == "n" \
        and value[1][1] in ("io.BytesIO", "io.StringIO")


def _expects_raise(node: Any) -> bool:
    """``pytest.raises(...)``, ``self.assertRaises(...)`` / ``assertRaisesRegex(...)``."""
    if type(node) is not ast.Call:
        return False
    func = node.func
    name = func.attr if type(func) is ast.Attribute else func.id if type(func) is ast.Name else ""
    return name in ("raises", "assertRaises", "assertRaisesRegex")


def _nested_calls(body: Any) -> bool:
    """Whether a lambda's body makes a call inside another expression than one plain call
    (``lambda: json.loads(open(p).read())``, ``lambda: a() or b()``)."""
    calls = sum(1 for node in ast.walk(body) if type(node) is ast.Call)
    return calls > 1 or (calls == 1 and type(body) is not ast.Call)


def _mentions_wnohang(node: Any) -> bool:
    kind = type(node)
    if kind is ast.Attribute:
        return node.attr == "WNOHANG"
    if kind is ast.Name:
        return node.id == "WNOHANG"
    if kind is ast.BinOp:
        return _mentions_wnohang(node.left) or _mentions_wnohang(node.right)
    return False


class _Walker:
    """The single pass over one module (module body first, function bodies after)."""

    def __init__(self, module: ModuleIndex) -> None:
        self.mod = module
        self.modname = module.modname
        top = FunctionInfo(f"{module.modname}.<module>", "<module>", module, 1, 0, False, None)
        module.functions[top.qualname] = top
        self.fn = top
        self.env: dict[str, Value] = module.bindings
        self.outer: list[dict[str, Value]] = []
        self.outer_fns: list[FunctionInfo] = []
        self.cls: ClassInfo | None = None
        self.self_name = ""
        self.recv = ""
        self.lam = -1
        self.tc = False
        self.guard = 0
        self._position = 0
        self.branch: tuple[tuple[int, int], ...] = ()
        self.blocks = 0
        self.tracked: set[str] = set()
        #: Tracked containers made as a dict (iterating one gives its keys, not its items).
        self.mappings: set[str] = set()
        self.local_names: set[str] | None = None
        self.params: set[str] = set()
        self.queue: list[tuple[FunctionInfo, ast.AST, list[dict[str, Value]],
                               list[FunctionInfo], ClassInfo | None, str]] = []
        self.stmt_handlers = {
            ast.Expr: self.s_expr, ast.Assign: self.s_assign, ast.AnnAssign: self.s_annassign,
            ast.AugAssign: self.s_augassign, ast.Return: self.s_return, ast.If: self.s_if,
            ast.For: self.s_for, ast.AsyncFor: self.s_for, ast.While: self.s_while,
            ast.With: self.s_with, ast.AsyncWith: self.s_with, ast.Try: self.s_try,
            ast.FunctionDef: self.s_def, ast.AsyncFunctionDef: self.s_def,
            ast.ClassDef: self.s_class, ast.Import: self.s_import,
            ast.ImportFrom: self.s_importfrom, ast.Assert: self.s_assert,
            ast.Raise: self.s_generic, ast.Delete: self.s_generic, ast.Pass: self.s_pass,
            ast.Break: self.s_pass, ast.Continue: self.s_pass, ast.Global: self.s_global,
            ast.Nonlocal: self.s_global,
        }
        try_star = getattr(ast, "TryStar", None)
        if try_star is not None:
            self.stmt_handlers[try_star] = self.s_try
        self.expr_handlers = {
            ast.Call: self.e_call, ast.Name: self.e_name, ast.Attribute: self.e_attr,
            ast.Await: self.e_await, ast.Constant: self.e_const, ast.Subscript: self.e_subscript,
            ast.JoinedStr: self.e_joined, ast.FormattedValue: self.e_formatted,
            ast.BinOp: self.e_binop, ast.BoolOp: self.e_boolop, ast.UnaryOp: self.e_unary,
            ast.Lambda: self.e_lambda, ast.IfExp: self.e_ifexp, ast.NamedExpr: self.e_named,
            ast.Yield: self.e_yield, ast.YieldFrom: self.e_yield, ast.Starred: self.e_starred,
            ast.List: self.e_container, ast.Tuple: self.e_container, ast.Set: self.e_container,
            ast.ListComp: self.e_comp, ast.SetComp: self.e_comp, ast.GeneratorExp: self.e_comp,
            ast.DictComp: self.e_comp, ast.Dict: self.e_dict,
        }

    # -- driving ---------------------------------------------------------------------------

    def close(self) -> None:
        """Break the walker's reference cycle (its handler tables hold bound methods).

        The engine runs with the garbage collector paused: left in a cycle, the walker would
        keep the whole syntax tree of every file alive (through ``queue``) until the end of
        the run, about 1 KB per line of code; broken, the tree is freed as soon as the file is
        indexed.
        """
        self.stmt_handlers = {}
        self.expr_handlers = {}
        self.queue = []
        self.outer, self.outer_fns = [], []

    def run(self, tree: Any) -> None:
        """Index the module body, then every function body (in definition order)."""
        self.body(tree.body)
        queue = self.queue
        i = 0
        while i < len(queue):
            fn, node, outer, outer_fns, cls, self_name = queue[i]
            i += 1
            self.outer_fns = outer_fns
            self.function_body(fn, node, outer, cls, self_name)

    def function_body(self, fn: FunctionInfo, node: Any, outer: list[dict[str, Value]],
                      cls: ClassInfo | None, self_name: str) -> None:
        self.fn, self.outer, self.cls, self.self_name = fn, outer, cls, self_name
        self.env = {}
        self.tracked = set()
        self.mappings = set()
        self.local_names = None
        self.lam, self.tc, self.guard = -1, False, 0
        self.branch, self.blocks = (), 0
        args = node.args
        params = args.posonlyargs + args.args
        self.recv = params[0].arg if self_name == "self" and params else ""
        self.params = {arg.arg for arg in params + args.kwonlyargs}
        for i, arg in enumerate(params):
            if i == 0 and self_name and cls is not None:
                self.env[arg.arg] = ("s", cls.qualname) if self_name == "self" else ("n", cls.qualname)
                continue
            self.env[arg.arg] = annotation_value(arg.annotation, self.value_only)
        for arg in args.kwonlyargs:
            self.env[arg.arg] = annotation_value(arg.annotation, self.value_only)
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                self.env[extra.arg] = None
        if type(node) is ast.Lambda:  # a lambda bound to a name: its body is returned
            fn.ret = self.expr(node.body, Ctx.RETURN)
            return
        fn.ret_ann = annotation_value(node.returns, self.value_only)
        self.body(node.body)

    def body(self, stmts: list[ast.stmt]) -> None:
        handlers = self.stmt_handlers
        for stmt in stmts:
            handler = handlers.get(type(stmt))
            if handler is None:
                self.s_generic(stmt)
            else:
                handler(stmt)

    def expr(self, node: Any, ctx: int = Ctx.OTHER, parent: int = -1) -> Value:
        handler = self.expr_handlers.get(type(node))
        if handler is None:
            self.generic(node)
            return None
        return handler(node, ctx, parent)

    def generic(self, node: ast.AST) -> None:
        """Walk the children of a node no handler knows (comparisons, slices, match, ...)."""
        for name in node._fields:
            value = getattr(node, name)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.stmt):
                        self.body([item])
                    elif isinstance(item, ast.AST):
                        self.expr(item)
            elif isinstance(value, ast.stmt):
                self.body([value])
            elif isinstance(value, ast.AST):
                self.expr(value)

    def value_only(self, node: Any) -> Value:
        """The symbolic value of a name or attribute chain, without recording anything."""
        kind = type(node)
        if kind is ast.Name:
            return self.lookup(node.id)
        if kind is ast.Attribute:
            base = self.value_only(node.value)
            return None if base is None else self.attr(base, node.attr)
        return None

    # -- names -----------------------------------------------------------------------------

    def lookup(self, name: str) -> Value:
        env = self.env
        if name in env:
            return env[name]
        outer = self.outer
        for i in range(len(outer) - 1, -1, -1):
            if name in outer[i]:
                if i < len(self.outer_fns):
                    self.outer_fns[i].captured.add(name)
                return outer[i][name]
        bindings = self.mod.bindings
        if name in bindings:
            return bindings[name]
        if self.mod.star_imports:
            return ("n", f"{self.modname}.{name}")
        return ("n", "builtins." + name)

    @staticmethod
    def attr(base: tuple[Any, ...], name: str) -> Value:
        if base[0] == "n":
            return ("n", f"{base[1]}.{name}")
        return ("a", base, name)

    def bind(self, target: Any, value: Value) -> None:
        kind = type(target)
        if value is not None and value[0] == "n" and "<lambda:" in value[1] \
                and kind in (ast.Name, ast.Attribute):
            made = self.mod.functions.get(value[1])
            if made is not None and made.display == "<lambda>":
                made.display = target.id if kind is ast.Name else target.attr
        if kind is ast.Name:
            name = target.id
            if self.local_names is not None and name in self.local_names:
                self.mod.bindings[name] = self._merge(self.mod.bindings.get(name, None), value)
            elif self.env is self.mod.bindings:
                self.env[name] = self._merge(self.env.get(name, None), value)
            else:
                self.env[name] = value
        elif kind is ast.Attribute:
            self.expr(target.value)
            base = target.value
            if self.cls is not None and type(base) is ast.Name and base.id == self.recv \
                    and self.recv:
                attrs = self.cls.attrs
                attrs[target.attr] = self._merge(attrs.get(target.attr), value)
        elif kind is ast.Tuple or kind is ast.List:
            for elt in target.elts:
                self.bind(elt, None)
        elif kind is ast.Starred:
            self.bind(target.value, None)
        elif kind is ast.Subscript and type(target.value) is ast.Name \
                and target.value.id in self.tracked:
            box = target.value
            self.fn.uses.setdefault(box.id, []).append((Ctx.GROW, -1, box.lineno,
                                                        box.col_offset))
            self.expr(target.slice)
        else:
            self.expr(target)

    @staticmethod
    def _merge(old: Value, new: Value) -> Value:
        """At module and class level keep the first informative binding (``x = None`` first)."""
        if new is None and old is not None:
            return old
        return new

    # -- statements ------------------------------------------------------------------------

    def s_pass(self, node: Any) -> None:
        return None

    def s_generic(self, node: Any) -> None:
        self.generic(node)

    def s_expr(self, node: Any) -> None:
        self.expr(node.value, Ctx.STMT)

    def s_assign(self, node: Any) -> None:
        targets = node.targets
        if self._parallel(node):
            return
        single = len(targets) == 1 and type(targets[0]) is ast.Name
        start = len(self.fn.calls)
        attribute = len(targets) == 1 and type(targets[0]) is ast.Attribute \
            and type(node.value) is ast.Call
        value = self.expr(node.value, Ctx.ASSIGN if single else
                          Ctx.ATTR if attribute else Ctx.STORE)
        calls = self.fn.calls
        kind = type(node.value)
        if attribute and not self.tc:
            for site in calls[start:]:
                if site.ctx == Ctx.ATTR:
                    site.assigned = targets[0].attr  # type: ignore[attr-defined]
        if single and not self.tc and (kind in _CONTAINERS or kind is ast.Call
                                       and len(calls) > start):
            name = targets[0].id  # type: ignore[attr-defined]
            if kind is ast.Call:
                calls[start].assigned = name
                self.tracked.add(name)
                seen = self.fn.assigned_at
                if seen is None:
                    seen = self.fn.assigned_at = {}
                seen[name] = None if name in seen else self.branch
            else:
                self._fill(start, name, kind is ast.Dict or kind is ast.DictComp)
        elif single and not self.tc and kind in (ast.IfExp, ast.BoolOp):
            # `c = x or make()` / `c = make() if ok else other`: the branches are assigned
            name = targets[0].id  # type: ignore[attr-defined]
            for site in calls[start:]:
                if site.ctx == Ctx.ASSIGN and not site.assigned:
                    site.assigned = name
            self.tracked.add(name)
        elif len(targets) == 1 and type(targets[0]) is ast.Subscript and len(calls) > start \
                and type(node.value) is ast.Call and type(targets[0].value) is ast.Name \
                and targets[0].value.id in self.tracked:  # type: ignore[attr-defined]
            calls[start].assigned = targets[0].value.id  # type: ignore[attr-defined]
        for target in targets:
            self.bind(target, value)

    def _parallel(self, node: Any) -> bool:
        """``a, b = x(), y()``: index as ``a = x()`` and ``b = y()`` (each name is judged)."""
        targets = node.targets
        if len(targets) != 1 or type(targets[0]) not in (ast.Tuple, ast.List) \
                or type(node.value) is not ast.Tuple:
            return False
        names, values = targets[0].elts, node.value.elts
        if len(names) != len(values) or any(type(item) is ast.Starred
                                            for item in names + values):
            return False
        awaited = type(values[0]) is ast.Await
        for name, value in zip(names, values, strict=True):
            if awaited and type(value) is ast.Call:
                # `a, b = await x(), y()`: the await takes x() alone, y()'s coroutine is lost
                self.bind(name, self.expr(value, Ctx.STMT))
                continue
            self.s_assign(ast.Assign(targets=[name], value=value, lineno=value.lineno,
                                     col_offset=value.col_offset))
        return True

    def _fill(self, start: int, name: str, mapping: bool = False) -> None:
        """Mark the calls stored directly as items of a container assigned to ``name``."""
        for site in self.fn.calls[start:]:
            if site.ctx == Ctx.STORE and site.parent == -1 and site.lam == -1:
                site.assigned = name
        self.tracked.add(name)
        if mapping:
            self.mappings.add(name)
        else:
            self.mappings.discard(name)

    def s_annassign(self, node: Any) -> None:
        value = None
        if node.value is not None:
            value = self.expr(node.value, Ctx.STORE)
        ann = annotation_value(node.annotation, self.value_only)
        if ann is not None and ann[0] == "c" and type(node.target) is ast.Name \
                and value is not None:
            ann = None  # `CHECKERS: dict[str, Fn] = {...}`: the literal says more than the type
        self.bind(node.target, ann if ann is not None else value)

    def s_augassign(self, node: Any) -> None:
        self.expr(node.value, Ctx.STORE)
        self.expr(node.target)

    def s_return(self, node: Any) -> None:
        if node.value is not None:
            value = self.expr(node.value, Ctx.RETURN)
            if value is not None and self.fn.ret is None:
                self.fn.ret = value

    def s_if(self, node: Any) -> None:
        test = node.test
        if self._is_type_checking(test):
            saved, self.tc = self.tc, True
            self.body(node.body)
            self.tc = saved
            self.body(node.orelse)
            return
        self.expr(test, Ctx.COND)
        kind = _guard_kind(test) or (_DEBUG if self._option_test(test) else 0)
        outer_guard = self.guard
        if kind:
            self.guard = GUARDED
        block = self._new_block()
        self.arm(node.body, block, _THEN)
        if kind == _DEBUG:
            self.guard = outer_guard
        self.arm(node.orelse, block, _ELSE)
        self.guard = outer_guard

    def _option_test(self, test: Any) -> bool:
        """``if reload:`` / ``if self.should_reload:`` in a constructor: a feature the object
        is built with or without; what runs under it depends on how it is built (its body is
        guarded, as debug-only code is)."""
        if self.fn.name != "__init__" or self.cls is None:
            return False
        kind = type(test)
        if kind is ast.Name:
            return test.id in self.params
        return kind is ast.Attribute and type(test.value) is ast.Name \
            and test.value.id == self.recv != ""

    def _new_block(self) -> int:
        self.blocks += 1
        return self.blocks

    def arm(self, stmts: list[ast.stmt], block: int, arm: int) -> None:
        """Walk statements that run only on some paths (recorded with the uses of names)."""
        if not stmts:
            return
        saved = self.branch
        self.branch = saved + ((block, arm),)
        try:
            self.body(stmts)
        finally:
            self.branch = saved

    def _is_type_checking(self, test: Any) -> bool:
        kind = type(test)
        if kind is ast.Name:
            return test.id == "TYPE_CHECKING"  # type: ignore[attr-defined]
        return kind is ast.Attribute and test.attr == "TYPE_CHECKING"  # type: ignore[attr-defined]

    def s_for(self, node: Any) -> None:
        value = self.expr(node.iter)
        if type(node) is ast.For:
            self._iterating(node.iter, value)
        self._bind_items(node.target, node.iter, value)
        # a loop body counts as taken: `for attempt in range(3): ... await c` is no finding
        self.body(node.body)
        self.body(node.orelse)

    def s_while(self, node: Any) -> None:
        self.expr(node.test, Ctx.COND)
        self.body(node.body)
        self.body(node.orelse)

    def s_with(self, node: Any) -> None:
        is_async = type(node) is ast.AsyncWith
        for item in node.items:
            value = self.expr(item.context_expr, Ctx.WITH)
            if not is_async and value is not None and not self.tc:
                expr = item.context_expr
                self.fn.calls.append(CallSite(expr.lineno, expr.col_offset,
                                              ("a", value, "__enter__"), "__enter__",
                                              Ctx.OTHER, -1, self.lam, self.guard))
            if item.optional_vars is not None:
                # what `with` gives: a @contextmanager's yield, __enter__'s return, or the
                # object itself (files, connections)
                self.bind(item.optional_vars, None if value is None else
                          ("w", value, "a" if is_async else ""))
        start = len(self.fn.calls)
        self.body(node.body)
        if any(_expects_raise(item.context_expr) for item in node.items):
            # `with pytest.raises(TypeError): fetch(1, 2)`: the call is made to fail before
            # it returns anything; no coroutine or task is dropped there
            for site in self.fn.calls[start:]:
                if site.ctx == Ctx.STMT and site.parent == -1:
                    site.ctx = Ctx.OTHER

    def s_try(self, node: Any) -> None:
        self.body(node.body)
        for handler in node.handlers:
            if handler.type is not None:
                self.expr(handler.type)
            if handler.name:
                self.env[handler.name] = None
            self.arm(handler.body, self._new_block(), _MAYBE)
        self.body(node.orelse)
        self.body(node.finalbody)

    def s_assert(self, node: Any) -> None:
        self.expr(node.test, Ctx.COND)
        if node.msg is not None:
            self.expr(node.msg, Ctx.FORMAT)

    def s_global(self, node: Any) -> None:
        if type(node) is ast.Global and self.env is not self.mod.bindings:
            if self.local_names is None:
                self.local_names = set()
            self.local_names.update(node.names)

    def s_import(self, node: Any) -> None:
        for alias in node.names:
            if alias.asname:
                self.env[alias.asname] = ("n", alias.name)
            else:
                head = alias.name.partition(".")[0]
                self.env[head] = ("n", head)

    def s_importfrom(self, node: Any) -> None:
        base = self._import_base(node.module, node.level)
        if base is None:
            return
        for alias in node.names:
            if alias.name == "*":
                if self.env is self.mod.bindings:
                    self.mod.star_imports.append(base)
                continue
            name = alias.asname or alias.name
            self.env[name] = ("n", f"{base}.{alias.name}" if base else alias.name)

    def _import_base(self, module: str | None, level: int) -> str | None:
        if not level:
            return module or ""
        parts = self.modname.split(".")
        keep = len(parts) - level + (1 if self.mod.is_package else 0)
        if keep < 0:
            return None
        base = ".".join(parts[:keep])
        if module:
            base = f"{base}.{module}" if base else module
        return base

    def s_def(self, node: Any) -> None:
        for deco in node.decorator_list:
            self.expr(deco)
        args = node.args
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.expr(default)
        cls = self.cls if self.fn.name == "<class>" else None
        prefix = self._prefix()
        qualname = f"{prefix}.{node.name}"
        fn = FunctionInfo(qualname, node.name, self.mod, node.lineno, node.col_offset,
                          type(node) is ast.AsyncFunctionDef, cls.qualname if cls else None)
        fn.end = node.end_lineno or node.lineno
        fn.decorators = [self.value_only(d.func if type(d) is ast.Call else d)
                         for d in node.decorator_list]
        if node.decorator_list:
            fn.deco_values = [("r", value) if type(d) is ast.Call and value is not None
                              else value
                              for d, value in zip(node.decorator_list, fn.decorators, strict=True)]
        if cls is not None:
            fn.display = f"{cls.qualname.rpartition('.')[2]}.{node.name}"
        self.mod.functions[qualname] = fn
        self_name = ""
        if cls is not None:
            cls.methods[node.name] = qualname
            names = {self._deco_name(d) for d in node.decorator_list}
            if "staticmethod" not in names:
                self_name = "cls" if "classmethod" in names else "self"
        if cls is not None:
            outer, outer_fns = self.outer, self.outer_fns
        elif self.env is self.mod.bindings:
            outer, outer_fns = [], []
        else:
            outer, outer_fns = self.outer + [self.env], self.outer_fns + [self.fn]
        if cls is None:
            self.env[node.name] = ("n", qualname)
        if not self.tc:  # a body under `if TYPE_CHECKING:` never runs: nothing in it to flag
            self.queue.append((fn, node, outer, outer_fns, cls, self_name))

    @staticmethod
    def _deco_name(node: Any) -> str:
        if type(node) is ast.Name:
            return node.id  # type: ignore[attr-defined]
        if type(node) is ast.Attribute:
            return node.attr  # type: ignore[attr-defined]
        return ""

    def _prefix(self) -> str:
        fn = self.fn
        if fn.name == "<module>":
            return self.modname
        if fn.name == "<class>":
            return fn.qualname.rpartition(".")[0]
        return f"{fn.qualname}.<locals>"

    def s_class(self, node: Any) -> None:
        for deco in node.decorator_list:
            self.expr(deco)
        qualname = f"{self._prefix()}.{node.name}"
        info = ClassInfo(qualname)
        info.bases = [self.expr(base) for base in node.bases]
        for kw in node.keywords:
            self.expr(kw.value)
        self.mod.classes[qualname] = info
        outer_value = ("n", qualname)
        if self.fn.name != "<class>":
            self.env[node.name] = outer_value
        saved = (self.fn, self.env, self.cls, self.self_name, self.outer, self.outer_fns)
        holder = FunctionInfo(f"{qualname}.<class>", "<class>", self.mod, node.lineno,
                              node.col_offset, False, qualname)
        holder.calls = saved[0].calls
        if self.fn.name != "<class>" and self.env is not self.mod.bindings:
            self.outer = self.outer + [self.env]
            self.outer_fns = self.outer_fns + [self.fn]
        self.fn, self.env, self.cls, self.self_name = holder, info.attrs, info, ""
        try:
            self.body(node.body)
        finally:
            self.fn, self.env, self.cls, self.self_name, self.outer, self.outer_fns = saved

    # -- expressions -----------------------------------------------------------------------

    def e_call(self, node: Any, ctx: int, parent: int) -> Value:
        func = node.func
        calls = self.fn.calls
        position, self._position = self._position, 0  # before any call inside `func`
        target = self.expr(func)
        if target is not None and target[0] == "a" and target[1][0] == "s" and self.recv \
                and type(func) is ast.Attribute and type(func.value) is ast.Name \
                and func.value.id == self.recv and self.cls is not None:
            # `self.fetch()` in a method: a subclass that overrides this very method never
            # runs this call, so its `fetch` is not among the candidates
            target = ("a", ("s", target[1][1], self.fn.name), target[2])
        index = len(calls)  # after the calls inside `func` (`a().b(x)`: x belongs to b)
        kind = type(func)
        if kind is ast.Name and func.id == "super" and self.cls is not None \
                and target == ("n", "builtins.super"):
            target = None
            sup: Value = ("sup", self.cls.qualname)
        else:
            sup = None
        name = func.attr if kind is ast.Attribute else (func.id if kind is ast.Name else "")
        flags = self.guard
        keywords = node.keywords
        if keywords or node.args:
            flags |= self._call_flags(node)
        flags |= position  # the first or second argument of its parent call
        if not self.tc:
            site = CallSite(node.lineno, node.col_offset, target, name, ctx, parent, self.lam,
                            flags)
            if kind is ast.Attribute:
                owner = func.value
                owner_kind = type(owner)
                if owner_kind is ast.Attribute:
                    site.owner = owner.attr
                elif owner_kind is ast.Name:
                    site.owner = owner.id
            calls.append(site)
        else:
            index = parent
        arg_ctx = Ctx.ARG
        if kind is ast.Attribute and name == "format" and type(func.value) is ast.Constant:
            arg_ctx = Ctx.FORMAT
        expr = self.expr
        first: Value = None
        takes_at = _CALLABLE_POSITION.get(name, -1) if not self.tc else -1
        stream = _STREAM_FUNCTIONS.get(target[1]) if target is not None and target[0] == "n" \
            and not self.tc else None
        memory = False
        gather = target == ("n", "asyncio.gather")
        for i, arg in enumerate(node.args):
            if i < 2 and type(arg) is ast.Call and not self.tc:
                self._position = ARG0 if i == 0 else ARG1
            value = expr(arg, Ctx.LISTED if gather and type(arg) is ast.Name else arg_ctx,
                         index)
            if stream is not None and i == stream[0] and value is not None:
                self._streamed(node, value, stream[1], index, target[1])  # type: ignore[index]
            if i == takes_at and value is not None and type(arg) in (ast.Name, ast.Attribute):
                self._given(arg, value, index)
            if i == 0:
                first = value
            elif i == 1 and _in_memory(value) and _in_memory(first):
                memory = True
            elif name in _EAGER_NAMES and value is not None and not self.tc \
                    and type(arg) in (ast.Name, ast.Attribute):
                self._passed(arg, value, index)
        for kw in keywords:
            if kw.arg in ("target", "function", "fn", "func", "callback") \
                    and type(kw.value) is ast.Call and not self.tc:
                self._position = ARG0
            value = expr(kw.value, arg_ctx, index)
            if takes_at >= 0 and kw.arg in _CALLABLE_KEYWORDS and value is not None \
                    and type(kw.value) in (ast.Name, ast.Attribute):
                self._given(kw.value, value, index)
            if kw.arg == "file" and name == "print" and value is not None and not self.tc:
                # print(..., file=fh) writes to fh
                self.fn.calls.append(CallSite(kw.value.lineno, kw.value.col_offset,
                                              ("a", value, "write"), "write", Ctx.OTHER, index,
                                              self.lam, self.guard | HAS_ARGS))
            if kw.arg in ("fileobj", "file") and _in_memory(value):
                memory = True
            if kw.arg == "key" and name in _EAGER_NAMES and value is not None and not self.tc \
                    and type(kw.value) in (ast.Name, ast.Attribute):
                self._passed(kw.value, value, index)
        if name in _EAGER_NAMES and node.args and first is not None and not self.tc \
                and type(node.args[0]) in (ast.Name, ast.Attribute) and name in ("map", "filter"):
            self._passed(node.args[0], first, index)
        if target is None:
            return sup
        if target[0] == "n" and target[1] in _ON_FILE_OBJECTS and (
                memory or (_in_memory(first) and target[1] != "shutil.copyfileobj")):
            # `zipfile.ZipFile(io.BytesIO(data))`: work on bytes in memory, no IO
            if not self.tc:
                calls[index].target = None
            return _IN_MEMORY_VALUE
        if first is not None and target[0] == "n" and target[1] in _SAME_AS_FIRST:
            return ("p", first) if target[1] == "functools.partial" else first
        return ("r", target)

    def _streamed(self, node: Any, value: Value, method: str, caller: int,
                  function: str) -> None:
        """``json.load(fh)`` reads ``fh``: record the ``fh.read()`` (``write``) it makes, at
        the position of the call that makes it (the one ``--fix`` moves to a thread), with
        that function's name as the site's owner (for the message)."""
        site = CallSite(node.lineno, node.col_offset, ("a", value, method), method, Ctx.OTHER,
                        caller, self.lam, self.guard | HAS_ARGS)
        site.owner = function
        self.fn.calls.append(site)

    def _passed(self, node: Any, value: Value, caller: int) -> None:
        """Record a function passed as a value to ``map``/``sorted(key=...)``... as a call made
        by that caller (``lam``): it counts as on the loop only if the caller is eager."""
        name = node.attr if type(node) is ast.Attribute else node.id
        self.fn.calls.append(CallSite(node.lineno, node.col_offset, value, name, Ctx.OTHER,
                                      caller, caller, self.guard | HAS_ARGS))

    def _given(self, node: Any, value: Value, taker: int) -> None:
        """Record a function handed to a callback taker (``loop.call_soon(fn)``,
        ``Thread(target=fn)``) as the call the taker makes later: what ``lambda *a: fn(*a)``
        given there would record (its result is the lambda's, returned to the taker)."""
        name = node.attr if type(node) is ast.Attribute else node.id
        self.fn.calls.append(CallSite(node.lineno, node.col_offset, value, name, Ctx.RETURN,
                                      taker, taker, self.guard | HAS_ARGS | PASSED))

    @staticmethod
    def _call_flags(node: Any) -> int:
        """``HAS_ARGS``, plus ``NONBLOCKING`` for the non-blocking forms of waiting calls.

        Those are ``block=False`` / ``timeout=0`` keywords, a first argument ``False``
        (``q.get(False)``), a last positional timeout of 0 (``event.wait(0)``,
        ``select.select(r, w, x, 0)``) and ``os.WNOHANG`` in the options (``os.waitpid``).
        Only catalogue entries marked ``nonblocking_args`` heed the flag.
        """
        for kw in node.keywords:
            value = kw.value
            if kw.arg in _STOP_KEYWORDS and type(value) is ast.Constant \
                    and value.value == _STOP_KEYWORDS[kw.arg] and type(value.value) is not str:
                return NONBLOCKING | HAS_ARGS
            if _mentions_wnohang(value):
                return NONBLOCKING | HAS_ARGS
        args = node.args
        if args:
            first, last = args[0], args[-1]
            if type(first) is ast.Constant and first.value is False:
                return NONBLOCKING | HAS_ARGS
            # a lone timeout (`event.wait(0)`), select's fourth argument, `q.get(True, 0)`;
            # not `os.waitpid(pid, 0)`, where 0 is the options and means "wait"
            if type(last) is ast.Constant and type(last.value) in (int, float) \
                    and last.value == 0 and (len(args) == 1 or len(args) >= 4 or (
                        type(first) is ast.Constant and first.value is True)):
                return NONBLOCKING | HAS_ARGS
            if any(_mentions_wnohang(arg) for arg in args[1:]):
                return NONBLOCKING | HAS_ARGS
        return HAS_ARGS

    def e_name(self, node: Any, ctx: int, parent: int) -> Value:
        name = node.id
        if name in self.tracked:
            self.fn.uses.setdefault(name, []).append((ctx, parent, node.lineno, node.col_offset,
                                                      self.branch))
        return self.lookup(name)

    def e_attr(self, node: Any, ctx: int, parent: int) -> Value:
        value = node.value
        if ctx not in _LOST_CONTAINER and not (ctx == Ctx.ARG and self._renders(parent)):
            self.mod.attr_loads.add(node.attr)
        if node.attr in GROW_METHODS and type(value) is ast.Name and value.id in self.tracked:
            self.fn.uses.setdefault(value.id, []).append((Ctx.GROW, parent, value.lineno,
                                                          value.col_offset))
            base = self.lookup(value.id)
        elif node.attr in _HANDS_ON:
            base = self.expr(value, Ctx.ARG)  # `pending.close()` ends the coroutine on purpose
        else:
            base = self.expr(value)
        if base is None:
            return None
        return self.attr(base, node.attr)

    def _renders(self, index: int) -> bool:
        """Whether the call at ``index`` (``print(...)``, ``log.info(...)``) only renders its
        arguments, as far as its names tell."""
        calls = self.fn.calls
        if not 0 <= index < len(calls):
            return False
        site = calls[index]
        if site.name in LOG_METHODS and LOGGER_NAME.fullmatch(site.owner):
            return True
        return site.target in _RENDERERS

    def e_await(self, node: Any, ctx: int, parent: int) -> Value:
        return self.expr(node.value, Ctx.AWAIT, parent)

    def e_const(self, node: Any, ctx: int, parent: int) -> Value:
        return None

    def e_subscript(self, node: Any, ctx: int, parent: int) -> Value:
        base = self.expr(node.value)
        self.expr(node.slice)
        if base is None:
            return None
        return ("a", base, "[]")

    def e_joined(self, node: Any, ctx: int, parent: int) -> Value:
        for value in node.values:
            self.expr(value, Ctx.FORMAT, parent)
        return None

    def e_formatted(self, node: Any, ctx: int, parent: int) -> Value:
        self.expr(node.value, Ctx.FORMAT, parent)
        if node.format_spec is not None:
            self.expr(node.format_spec)
        return None

    def e_binop(self, node: Any, ctx: int, parent: int) -> Value:
        left = self.expr(node.left)
        op = type(node.op)
        if op is ast.Mod and type(node.left) in (ast.Constant, ast.JoinedStr):
            right = node.right
            if type(right) is ast.Tuple:
                for elt in right.elts:
                    self.expr(elt, Ctx.FORMAT, parent)
            else:
                self.expr(right, Ctx.FORMAT, parent)
            return None
        self.expr(node.right)
        if op is ast.Div and left is not None:
            return ("r", ("a", left, "__truediv__"))
        return None

    def e_boolop(self, node: Any, ctx: int, parent: int) -> Value:
        values = node.values
        last = len(values) - 1
        result: Value = None
        for i, value in enumerate(values):
            result = self.expr(value, Ctx.COND if i < last else ctx, parent)
        return result

    def e_unary(self, node: Any, ctx: int, parent: int) -> Value:
        self.expr(node.operand, Ctx.COND if type(node.op) is ast.Not else Ctx.OTHER, parent)
        return None

    def e_lambda(self, node: Any, ctx: int, parent: int) -> Value:
        if ctx in (Ctx.ASSIGN, Ctx.STORE) and parent == -1 and self.lam == -1 and not self.tc \
                and _nested_calls(node.body):
            return self._lambda_function(node)
        saved_lam, saved_env = self.lam, self.env
        self.lam = parent if ctx == Ctx.ARG else -2
        self.env = dict(saved_env)
        for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
            self.env[arg.arg] = None
        try:
            result = self.expr(node.body, Ctx.RETURN)
        finally:
            self.lam, self.env = saved_lam, saved_env
        if result is not None and result[0] == "r" and type(node.body) is ast.Call:
            return ("p", result[1])  # `fetch = lambda u: requests.get(u)`: calls requests.get
        return None

    def _lambda_function(self, node: Any) -> Value:
        """A lambda whose body nests calls (``lambda p: json.loads(open(p).read())``), bound
        to a name, an attribute or a container item, is indexed as a function of its own, so
        that calling it is followed into every call it makes."""
        in_class = self.fn.name == "<class>"
        cls = self.cls if in_class else None
        qualname = f"{self._prefix()}.<lambda:{node.lineno}:{node.col_offset}>"
        fn = FunctionInfo(qualname, "<lambda>", self.mod, node.lineno, node.col_offset, False,
                          cls.qualname if cls else None)
        fn.end = node.end_lineno or node.lineno
        self.mod.functions[qualname] = fn
        if in_class:
            outer, outer_fns = self.outer, self.outer_fns
        elif self.env is self.mod.bindings:
            outer, outer_fns = [], []
        else:
            outer, outer_fns = self.outer + [self.env], self.outer_fns + [self.fn]
        self.queue.append((fn, node, outer, outer_fns, cls, "self" if in_class else ""))
        return ("n", qualname)

    def e_ifexp(self, node: Any, ctx: int, parent: int) -> Value:
        self.expr(node.test, Ctx.COND)
        kind = _guard_kind(node.test)
        saved = self.guard
        if kind:
            self.guard = GUARDED
        body = self.expr(node.body, ctx, parent)
        if kind == _DEBUG:
            self.guard = saved
        other = self.expr(node.orelse, ctx, parent)
        self.guard = saved
        if ctx == Ctx.RETURN and body is not None and other is not None and body != other:
            return None  # `return _afind(...) if is_async else _find(...)`: one or the other
        return body if body is not None else other

    def e_named(self, node: Any, ctx: int, parent: int) -> Value:
        value = self.expr(node.value, ctx, parent)
        self.bind(node.target, value)
        return value

    def e_yield(self, node: Any, ctx: int, parent: int) -> Value:
        fn = self.fn
        fn.has_yield = True
        if node.value is not None:
            value = self.expr(node.value, Ctx.RETURN)
            if fn.yielded is None and type(node) is ast.Yield:
                fn.yielded = value
        return None

    def e_starred(self, node: Any, ctx: int, parent: int) -> Value:
        # `gather(*(c() for c in ...))` unpacks the items: the container is not handed on whole
        self.expr(node.value, Ctx.STORE if type(node.value) in _CONTAINERS else ctx, parent)
        return None

    def e_container(self, node: Any, ctx: int, parent: int) -> Value:
        start = len(self.fn.calls)
        elts = node.elts
        if type(node) is ast.Tuple and ctx in (Ctx.STMT, Ctx.RETURN) and elts \
                and type(elts[0]) is ast.Await:
            # `await a(), b()`: the await takes a() alone; b()'s coroutine is dropped
            items = [self.expr(elts[0], Ctx.STORE, parent)]
            items += [self.expr(elt, Ctx.STMT if type(elt) is ast.Call else Ctx.STORE, parent)
                      for elt in elts[1:]]
        else:
            items = [self.expr(elt, Ctx.STORE, parent) for elt in elts]
        self._unreachable_items(start, ctx, parent)
        kept = tuple(item for item in items if item is not None)
        return ("d", kept) if kept else None

    def e_dict(self, node: Any, ctx: int, parent: int) -> Value:
        start = len(self.fn.calls)
        for key in node.keys:
            if key is not None:
                self.expr(key)
        items = [self.expr(value, Ctx.STORE, parent) for value in node.values]
        self._unreachable_items(start, ctx, parent)
        kept = tuple(item for item in items if item is not None)
        return ("d", kept, "{}") if kept else None

    def _bind_items(self, target: Any, source: Any, value: Value) -> None:
        """Bind a loop's target to the items of what it iterates, when their type is known.

        ``for s in xs`` (``xs: list[T]``), ``for s in d.values()``, ``for k, s in d.items()``
        and ``for i, s in enumerate(xs)`` give ``s`` the item type of the annotated container,
        so that ``s.close()`` is judged as a call on a ``T``. Anything else binds nothing.
        """
        self._iterated(target, source)
        item: Value = None
        pair = False
        if value is not None and type(source) is not ast.Call:
            item = ("a", value, "[iter]")
        elif type(source) is ast.Call and not source.keywords:
            func = source.func
            if type(func) is ast.Attribute and not source.args \
                    and func.attr in ("values", "items") and value is not None \
                    and value[0] == "r" and value[1] is not None and value[1][0] == "a":
                item, pair = ("a", value[1][1], "[]"), func.attr == "items"
            elif type(func) is ast.Name and func.id == "enumerate" and len(source.args) == 1:
                inner = self.value_only(source.args[0])
                item, pair = (("a", inner, "[iter]") if inner is not None else None), True
        if item is not None and pair and type(target) is ast.Tuple and len(target.elts) == 2 \
                and type(target.elts[1]) is ast.Name:
            self.bind(target.elts[0], None)
            self.bind(target.elts[1], item)
        elif item is not None and not pair and type(target) is ast.Name:
            self.bind(target, item)
        else:
            self.bind(target, None)

    def _iterated(self, target: Any, source: Any) -> None:
        """Mark a tracked container's use as iterated, with the name that takes its items.

        ``for c in pending`` (a list or set), ``for c in pending.values()``, ``for k, c in
        pending.items()`` and ``for i, c in enumerate(pending)`` hand the items to ``c``;
        iterating a dict itself hands on only its keys. The name ``c`` is tracked from here on,
        so that its uses show whether the items are ever awaited or handed on.
        """
        box, pair = source, False
        if type(source) is ast.Call and not source.keywords:
            func = source.func
            if type(func) is ast.Attribute and not source.args \
                    and func.attr in ("values", "items"):
                box, pair = func.value, func.attr == "items"
            elif type(func) is ast.Name and func.id == "enumerate" and len(source.args) == 1:
                box, pair = source.args[0], True
            else:
                return
        if type(box) is not ast.Name or box.id not in self.tracked:
            return
        uses = self.fn.uses.get(box.id)
        if not uses or uses[-1][2:4] != (box.lineno, box.col_offset):
            return
        keys = box is source and box.id in self.mappings
        var = target.elts[1] if pair and type(target) is ast.Tuple and len(target.elts) == 2 \
            else None if pair else target
        name = var.id if type(var) is ast.Name and not keys else None
        uses[-1] = (Ctx.ITER, -1, box.lineno, box.col_offset, uses[-1][4] if len(uses[-1]) > 4
                    else (), name)
        if name is not None:
            self.tracked.add(name)

    def _iterating(self, source: Any, value: Value) -> None:
        """Record a sync ``for`` over ``source`` as the call it makes: ``iter(x)`` and every
        ``next`` (a file's reads, a cursor's fetches, a generator's body)."""
        if value is not None and not self.tc and not (
                value[0] == "r" and value[1][0] == "n" and value[1][1].startswith("builtins.")):
            # (`for i in range(n)`, `for k in sorted(d)`: builtins that read nothing)
            self.fn.calls.append(CallSite(source.lineno, source.col_offset,
                                          ("a", value, "__iter__"), "__iter__", Ctx.OTHER, -1,
                                          self.lam, self.guard))

    def e_comp(self, node: Any, ctx: int, parent: int) -> Value:
        start = len(self.fn.calls)
        for gen in node.generators:
            value = self.expr(gen.iter)
            if not gen.is_async and type(node) is not ast.GeneratorExp:
                self._iterating(gen.iter, value)  # a generator expression runs lazily
            self._bind_items(gen.target, gen.iter, value)
            for cond in gen.ifs:
                self.expr(cond, Ctx.COND)
        if type(node) is ast.DictComp:
            self.expr(node.key)
            self.expr(node.value, Ctx.STORE, parent)
        else:
            self.expr(node.elt, Ctx.STORE, parent)
        self._unreachable_items(start, ctx, parent)
        return None

    def _unreachable_items(self, start: int, ctx: int, parent: int) -> None:
        """Mark the calls stored as items of a container literal that no name keeps.

        A container that is a bare statement, a test or formatted loses its items at once
        (``[lost]``); one handed to a call (``[arg]``) loses them if that call only measures
        or prints it (``len``, ``print``) or is ``asyncio.gather`` (which wants ``*items``).
        """
        if ctx in _LOST_CONTAINER:
            mark = "[lost]"
        elif ctx == Ctx.ARG and parent >= 0:
            mark = "[arg]"
        else:
            return
        for site in self.fn.calls[start:]:
            if site.ctx == Ctx.STORE and site.parent == parent and site.lam == self.lam \
                    and not site.assigned:
                site.assigned = mark
