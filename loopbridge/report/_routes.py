"""Flask routes from source, without importing it: one statement walk per module tree.

Found: ``@app.route(...)`` and ``@app.get/post/put/patch/delete(...)`` on functions (at module
level or inside an app factory), ``Blueprint(...)`` objects with their name and
``url_prefix``, ``register_blueprint(...)`` (with a ``url_prefix`` override and nesting),
``add_url_rule(rule, endpoint, view_func)`` with a function or a class-based view
(``SomeView.as_view("name")``, a ``View``/``MethodView`` subclass). The walk also records the
functions handed to a thread (``to_async(fn)``, ``asyncio.to_thread(fn, ...)``,
``loop.run_in_executor(None, fn)``), which the lint's index does not keep and the report
needs to follow a coroutine into the sync code it offloads.

Names are resolved through the lint's index of the module (its global bindings) plus the
imports and assignments of the enclosing function, as symbolic values in the index's own
notation (``("n", dotted)``, ``("a", V, attr)``, ``("r", V)``), so the lint's resolver can
finish the job across modules.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from ._lintapi import ModuleIndex

__all__ = ["HOOKS", "HTTP_METHODS", "BlueprintDecl", "Registration", "RouteDecl", "SourceFacts",
           "scan_module"]

Value = tuple[Any, ...] | None

#: Route decorators of Flask and Blueprint objects and the method each implies.
_VERB_DECORATORS = {"get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH",
                    "delete": "DELETE"}
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
_FLASK_TYPES = frozenset({"flask.Flask", "flask.app.Flask", "flask.sansio.app.App",
                          "quart.Quart"})
_BLUEPRINT_TYPES = frozenset({"flask.Blueprint", "flask.blueprints.Blueprint",
                              "flask.sansio.blueprints.Blueprint", "quart.Blueprint"})
#: Request hooks: they run around every request of their app or blueprint.
HOOKS = frozenset({"before_request", "after_request", "teardown_request", "teardown_appcontext",
                   "before_app_request", "after_app_request", "teardown_app_request"})
#: Web frameworks whose routers look like Flask's but are not Flask.
_FOREIGN = ("fastapi.", "starlette.", "aiohttp.", "sanic.", "litestar.", "django.")
#: Callables that run their function argument in a thread: name -> index of that argument.
_OFFLOADERS = {"to_async": 0, "sync_to_async": 0, "to_thread": 0, "run_in_executor": 1,
               "submit": 0, "run_sync": 0, "run_in_threadpool": 0}
_TRY_STAR = getattr(ast, "TryStar", ast.Try)
#: The fields of compound statements that hold statements.
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
_OFFLOAD_WORDS = ("to_async", "to_thread", "run_in_executor", "submit", "run_sync",
                  "run_in_threadpool")


@dataclass(slots=True)
class RouteDecl:
    """One URL rule and its view as written in the source (resolved later)."""

    path: str
    line: int
    rule: str
    methods: tuple[str, ...]
    endpoint: str | None
    owner: str
    view: Value
    view_qualname: str = ""
    view_is_class: bool = False
    explicit_methods: bool = False


@dataclass(slots=True)
class BlueprintDecl:
    """A ``Blueprint("name", __name__, url_prefix=...)`` bound to a name."""

    ident: str
    name: str
    url_prefix: str


@dataclass(slots=True)
class Registration:
    """``parent.register_blueprint(child, url_prefix=..., name=...)``."""

    parent: str
    child: Value
    url_prefix: str | None
    name: str | None


@dataclass(slots=True)
class SourceFacts:
    """What the route pass found in one module."""

    modname: str
    routes: list[RouteDecl] = field(default_factory=list)
    blueprints: dict[str, BlueprintDecl] = field(default_factory=dict)
    apps: set[str] = field(default_factory=set)
    registrations: list[Registration] = field(default_factory=list)
    offloads: list[tuple[str, Value]] = field(default_factory=list)
    tables: dict[str, list[Value]] = field(default_factory=dict)
    returns_table: dict[str, Value] = field(default_factory=dict)
    hooks: list[tuple[str, str, Value]] = field(default_factory=list)
    loops: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    handlers: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    table_calls: list[tuple[str, Value]] = field(default_factory=list)


def _const_str(node: Any) -> str | None:
    if type(node) is ast.Constant and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> Any:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _methods(node: Any) -> tuple[str, ...] | None:
    if type(node) in (ast.List, ast.Tuple, ast.Set):
        found = [_const_str(e) for e in node.elts]
        if all(found):
            return tuple(sorted({m.upper() for m in found if m}))
    return None


def scan_module(tree: ast.Module, module: ModuleIndex, text: str) -> SourceFacts:
    """Walk ``tree`` (the module ``module`` indexes) and return its :class:`SourceFacts`."""
    facts = SourceFacts(module.modname)
    wants_offloads = any(word in text for word in _OFFLOAD_WORDS)
    _Scanner(module, facts, wants_offloads).run(tree)
    return facts


class _Scanner:
    """The statement walk; expressions are visited only to find offloaded functions."""

    def __init__(self, module: ModuleIndex, facts: SourceFacts, offloads: bool) -> None:
        self.mod = module
        self.facts = facts
        self.offloads = offloads
        self.scope = module.modname
        self.fn_scope = f"{module.modname}.<module>"
        self.prefix = module.modname
        self.env: dict[str, Value] = {}
        self.in_function = False
        self.as_views: dict[str, tuple[Value, str | None]] = {}

    def run(self, tree: ast.Module) -> None:
        self.body(tree.body)

    # -- names -----------------------------------------------------------------------------

    def value(self, node: Any) -> Value:
        kind = type(node)
        if kind is ast.Name:
            name = node.id
            if name in self.env:
                return self.env[name]
            bindings = self.mod.bindings
            if name in bindings:
                bound = bindings[name]
                if bound is None or bound[0] == "d":  # unknown, or a literal table: by name
                    return ("n", f"{self.mod.modname}.{name}")
                return bound
            return ("n", f"builtins.{name}")
        if kind is ast.Attribute:
            base = self.value(node.value)
            if base is None:
                return None
            if base[0] == "n":
                return ("n", f"{base[1]}.{node.attr}")
            return ("a", base, node.attr)
        if kind is ast.Call:
            func = self.value(node.func)
            return None if func is None else ("r", func)
        return None

    def ident(self, node: Any) -> str:
        """A stable name for the object an expression denotes (app, blueprint)."""
        kind = type(node)
        if kind is ast.Name and self.in_function and node.id in self.env:
            found = self.env[node.id]
            if found is not None and found[0] == "local":
                return str(found[1])
        if kind is ast.Name and node.id not in self.env:
            bound = self.mod.bindings.get(node.id)
            if bound is None or bound[0] != "n":
                return f"{self.mod.modname}.{node.id}"
        value = self.value(node)
        if value is not None and value[0] == "n":
            return str(value[1])
        return ast.unparse(node) if kind in (ast.Name, ast.Attribute) else "?"

    def _import_base(self, module: str | None, level: int) -> str | None:
        if not level:
            return module or ""
        parts = self.mod.modname.split(".")
        keep = len(parts) - level + (1 if self.mod.is_package else 0)
        if keep < 0:
            return None
        base = ".".join(parts[:keep])
        if module:
            base = f"{base}.{module}" if base else module
        return base

    # -- statements ------------------------------------------------------------------------

    def body(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            kind = type(stmt)
            if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                self.s_def(stmt)
            elif kind is ast.ClassDef:
                self.s_class(stmt)
            elif kind is ast.If and self._type_checking(stmt.test):  # type: ignore[attr-defined]
                self.body(stmt.orelse)  # type: ignore[attr-defined]
            else:
                if kind is ast.Assign:
                    self.s_assign(stmt)  # type: ignore[arg-type]
                    self.s_table(stmt.targets[0], stmt.value)  # type: ignore[attr-defined]
                elif kind is ast.AnnAssign and stmt.value is not None:  # type: ignore[attr-defined]
                    self.s_table(stmt.target, stmt.value)  # type: ignore[attr-defined]
                elif kind is ast.Expr and type(stmt.value) is ast.Call:  # type: ignore[attr-defined]
                    self.s_call(stmt.value)  # type: ignore[attr-defined]
                elif self.in_function and kind in (ast.Import, ast.ImportFrom):
                    self.s_import(stmt)
                elif kind is ast.Return and self.in_function:
                    table = self.table_lookup(stmt.value)  # type: ignore[attr-defined]
                    if table is not None:
                        self.facts.returns_table[self.fn_scope] = table
                elif kind is ast.For or kind is ast.AsyncFor:
                    inner = stmt.body  # type: ignore[attr-defined]
                    self.facts.loops.setdefault(self.fn_scope, []).append(
                        (inner[0].lineno, inner[-1].end_lineno or inner[-1].lineno))
                elif kind is ast.Try or kind is _TRY_STAR:
                    self.facts.handlers.setdefault(self.fn_scope, []).extend(
                        (h.lineno, h.end_lineno or h.lineno)
                        for h in stmt.handlers)  # type: ignore[attr-defined]
                if kind in (ast.Expr, ast.Assign, ast.Return) and self.in_function:
                    call = stmt.value  # type: ignore[attr-defined]
                    if type(call) is ast.Call and type(call.func) is ast.Subscript:
                        table = self.value(call.func.value)
                        if table is not None:
                            self.facts.table_calls.append((self.fn_scope, table))
                self.fields(stmt)

    @staticmethod
    def _type_checking(test: Any) -> bool:
        return (type(test) is ast.Name and test.id == "TYPE_CHECKING") or \
            (type(test) is ast.Attribute and test.attr == "TYPE_CHECKING")

    def fields(self, stmt: ast.stmt) -> None:
        if not self.offloads:
            for name in _BODIES:
                inner = getattr(stmt, name, None)
                if inner:
                    if name == "handlers" or name == "cases":
                        for item in inner:
                            self.body(item.body)
                    else:
                        self.body(inner)
            return
        for _, value in ast.iter_fields(stmt):
            if type(value) is list:
                if value and isinstance(value[0], ast.stmt):
                    self.body(value)
                    continue
                for item in value:
                    if isinstance(item, (ast.ExceptHandler, ast.match_case)):
                        self.body(item.body)
                    elif isinstance(item, ast.AST):
                        self.scan_expr(item)
            elif isinstance(value, ast.AST):
                self.scan_expr(value)

    def s_import(self, stmt: Any) -> None:
        if type(stmt) is ast.Import:
            for alias in stmt.names:
                if alias.asname:
                    self.env[alias.asname] = ("n", alias.name)
                else:
                    head = alias.name.partition(".")[0]
                    self.env[head] = ("n", head)
            return
        base = self._import_base(stmt.module, stmt.level)
        if base is None:
            return
        for alias in stmt.names:
            if alias.name != "*":
                self.env[alias.asname or alias.name] = ("n", f"{base}.{alias.name}" if base
                                                        else alias.name)

    def s_def(self, node: Any) -> None:
        qualname = f"{self.prefix}.{node.name}"
        for deco in node.decorator_list:
            if type(deco) is ast.Call:
                self.route_decorator(deco, node, qualname)
            elif type(deco) is ast.Attribute and deco.attr in HOOKS:
                self.facts.hooks.append((self.ident(deco.value), deco.attr, ("n", qualname)))
        if self.offloads:
            for deco in node.decorator_list:
                self.scan_expr(deco)
        saved = (self.scope, self.fn_scope, self.prefix, self.env, self.in_function)
        self.scope = self.fn_scope = qualname
        self.prefix = f"{qualname}.<locals>"
        self.env = dict(self.env) if self.in_function else {}
        self.in_function = True
        try:
            self.body(node.body)
        finally:
            self.scope, self.fn_scope, self.prefix, self.env, self.in_function = saved

    def s_class(self, node: Any) -> None:
        qualname = f"{self.prefix}.{node.name}"
        saved = (self.scope, self.prefix)
        self.scope = self.prefix = qualname
        try:
            self.body(node.body)
        finally:
            self.scope, self.prefix = saved

    def s_assign(self, node: ast.Assign) -> None:
        if len(node.targets) != 1 or type(node.targets[0]) is not ast.Name:
            return
        call = node.value
        if type(call) is not ast.Call:
            return
        name = node.targets[0].id
        if type(call.func) is ast.Attribute and call.func.attr == "as_view":
            # view = SomeView.as_view("name"), registered later with add_url_rule
            self.as_views[name] = (self.value(call.func.value),
                                   _const_str(call.args[0]) if call.args else None)
            return
        made = self.value(call.func)
        kind = _flask_kind(made)
        if kind is None:
            return
        ident = f"{self.prefix}.{name}" if self.in_function else f"{self.mod.modname}.{name}"
        if self.in_function:
            self.env[name] = ("local", ident)
        if kind == "app":
            self.facts.apps.add(ident)
            return
        bp_name = _const_str(call.args[0]) if call.args else _const_str(_keyword(call, "name"))
        prefix = _const_str(call.args[2]) if len(call.args) > 2 else None
        prefix = _const_str(_keyword(call, "url_prefix")) or prefix or ""
        self.facts.blueprints[ident] = BlueprintDecl(ident, bp_name or name, prefix)

    def s_table(self, target: Any, value: Any) -> None:
        """A module-level dispatch table: ``NAME = {key: function, ...}`` (or a list/tuple)."""
        if self.in_function or type(target) is not ast.Name:
            return
        kind = type(value)
        if kind is ast.Dict:
            items = value.values
        elif kind in (ast.List, ast.Tuple):
            items = value.elts
        else:
            return
        refs = [self.value(item) for item in items
                if type(item) in (ast.Name, ast.Attribute)]
        if refs and len(refs) == len(items):
            self.facts.tables[f"{self.mod.modname}.{target.id}"] = refs

    def table_lookup(self, node: Any) -> Value:
        """The table in ``return TABLE[key]`` / ``return TABLE.get(key)``, if that is the form."""
        if type(node) is ast.Subscript:
            return self.value(node.value)
        if type(node) is ast.Call and type(node.func) is ast.Attribute and node.func.attr == "get":
            return self.value(node.func.value)
        return None

    def s_call(self, call: ast.Call) -> None:
        func = call.func
        if type(func) is not ast.Attribute:
            return
        if func.attr == "add_url_rule":
            self.add_url_rule(call, func)
        elif func.attr in HOOKS and len(call.args) == 1:
            self.facts.hooks.append((self.ident(func.value), func.attr, self.value(call.args[0])))
        elif func.attr == "register_blueprint" and call.args:
            child_node = call.args[0]
            child: Value
            if type(child_node) is ast.Name and self.in_function and child_node.id in self.env \
                    and (self.env[child_node.id] or ("",))[0] == "local":
                child = ("id", self.env[child_node.id][1])  # type: ignore[index]
            else:
                child = self.value(child_node)
            self.facts.registrations.append(Registration(
                self.ident(func.value), child, _const_str(_keyword(call, "url_prefix")),
                _const_str(_keyword(call, "name"))))

    # -- routes ----------------------------------------------------------------------------

    def route_decorator(self, deco: ast.Call, node: Any, qualname: str) -> None:
        func = deco.func
        if type(func) is not ast.Attribute:
            return
        attr = func.attr
        if attr != "route" and attr not in _VERB_DECORATORS:
            return
        rule = _const_str(deco.args[0]) if deco.args else _const_str(_keyword(deco, "rule"))
        if rule is None or not rule.startswith("/") or self.foreign_receiver(func.value):
            return  # Flask refuses a rule without its leading slash
        explicit = _methods(_keyword(deco, "methods"))
        if attr in _VERB_DECORATORS:
            methods: tuple[str, ...] = (_VERB_DECORATORS[attr],)
        else:
            methods = explicit or ("GET",)
        endpoint = _const_str(_keyword(deco, "endpoint"))
        self.facts.routes.append(RouteDecl(
            self.mod.path, deco.lineno, rule, methods, endpoint, self.ident(func.value),
            ("n", qualname), qualname, False, explicit is not None or attr != "route"))

    def foreign_receiver(self, node: Any) -> bool:
        """Whether the decorated object is made by another web framework (FastAPI, aiohttp...)."""
        value = self.value(node)
        if value is not None and value[0] == "local":
            return False
        if value is not None and value[0] == "r" and value[1] and value[1][0] == "n":
            return str(value[1][1]).startswith(_FOREIGN)
        return False

    def add_url_rule(self, call: ast.Call, func: ast.Attribute) -> None:
        args = call.args
        rule = _const_str(args[0]) if args else _const_str(_keyword(call, "rule"))
        if rule is None:
            return
        endpoint_node = args[1] if len(args) > 1 else _keyword(call, "endpoint")
        view_node = args[2] if len(args) > 2 else _keyword(call, "view_func")
        if view_node is None:
            return
        endpoint = _const_str(endpoint_node)
        is_class = False
        if type(view_node) is ast.Call and type(view_node.func) is ast.Attribute \
                and view_node.func.attr == "as_view":
            is_class = True
            if endpoint is None and view_node.args:
                endpoint = _const_str(view_node.args[0])
            view = self.value(view_node.func.value)
        elif type(view_node) is ast.Name and view_node.id in self.as_views:
            is_class = True
            view, named = self.as_views[view_node.id]
            endpoint = endpoint or named
        else:
            view = self.value(view_node)
        explicit = _methods(_keyword(call, "methods"))
        self.facts.routes.append(RouteDecl(
            self.mod.path, call.lineno, rule, explicit or ("GET",), endpoint,
            self.ident(func.value), view, "", is_class, explicit is not None))

    # -- offloads --------------------------------------------------------------------------

    def scan_expr(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            if type(sub) is not ast.Call:
                continue
            func = sub.func  # type: ignore[attr-defined]
            name = func.attr if type(func) is ast.Attribute else (
                func.id if type(func) is ast.Name else "")
            position = _OFFLOADERS.get(name)
            if position is None or len(sub.args) <= position:  # type: ignore[attr-defined]
                continue
            target = sub.args[position]  # type: ignore[attr-defined]
            if type(target) in (ast.Name, ast.Attribute):
                value = self.value(target)
                if value is not None and value[0] != "local":
                    self.facts.offloads.append((self.fn_scope, value))


def _flask_kind(made: Value) -> str | None:
    """``app`` / ``bp`` when a call makes a Flask app or a Blueprint (by the name called)."""
    if made is None or made[0] != "n":
        return None
    name = str(made[1])
    if name in _FLASK_TYPES or name.endswith(".Flask") or name == "builtins.Flask":
        return "app"
    if name in _BLUEPRINT_TYPES or name.endswith(".Blueprint") or name == "builtins.Blueprint":
        return "bp"
    return None
