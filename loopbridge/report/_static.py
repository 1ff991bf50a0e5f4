"""The static half: routes, the IO call sites each reaches, and per-module counts.

Each file is read, parsed and indexed once with the lint's own indexer; the same tree then
gets the route pass (:mod:`loopbridge.report._routes`) and is dropped. The lint's resolver
classifies every call, and a breadth-first walk from each view follows the calls across
modules, in one of three contexts:

``thread``   a sync view's worker thread: a blocking call is ``blocking``;
``loop``     the shared loop (an ``async def`` view, a coroutine, a ``to_sync`` body): a
             blocking call there is ``stalls_loop``, an awaited async API is ``migrated``;
``offload``  a function a coroutine handed to a thread (``to_async``, ``asyncio.to_thread``):
             a blocking call there is ``offloaded``.

``bridge.http.*``, ``bridge.run`` and a ``requests.Session`` that mounts bridge.http's
adapter count as ``migrated`` from a thread (the IO runs on the loop), and as ``stalls_loop``
when called on the loop. The runtime's own packages are never walked into. A route's walk
starts at its view(s) and at the request hooks around it, and also follows functions handed
to a thread and calls through module-level dispatch tables (both found by the route pass).
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from . import _lintapi as lint
from ._model import IOSite, ModuleCounts, Report, RouteReport, worst
from ._routes import HTTP_METHODS, RouteDecl, SourceFacts, scan_module

__all__ = ["scan"]

_LIBRARY = ("bridge.", "async_core.")
_CODE_KIND = {"LB101": "http", "LB102": "sleep", "LB103": "subprocess", "LB104": "file",
              "LB105": "db", "LB106": "network", "LB107": "input", "LB108": "wait",
              "LB109": "configured", "LB401": "runner", "LB402": "runner"}
#: Async APIs that do IO, by name prefix, and their kind.
_ASYNC_IO = (("aiohttp.", "http"), ("httpx.AsyncClient.", "http"), ("asyncio.sleep", "sleep"),
             ("asyncio.open_", "network"), ("asyncio.AbstractEventLoop.sock_", "network"),
             ("asyncio.AbstractEventLoop.getaddrinfo", "network"),
             ("asyncio.AbstractEventLoop.create_connection", "network"),
             ("asyncio.create_subprocess_", "subprocess"), ("asyncio.subprocess.", "subprocess"),
             ("asyncio.StreamReader.", "network"), ("asyncio.StreamWriter.drain", "network"),
             ("aiofiles.", "file"), ("asyncpg.", "db"), ("aiosqlite.", "db"),
             ("redis.asyncio.", "db"), ("psycopg.Async", "db"))
_HTTP_LIBRARY = ("bridge.http.", "async_core.http.")
_HTTP_CALLS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request",
                         "map"})
_BRIDGE_RUNNERS = frozenset({"bridge.run", "bridge.SyncWrapper.__call__"})

# A site as the walk sees it: (key, kind, how: "io" | "async" | "bridge", call label, entry)
_Site = tuple[str, str, str, str, object]


@dataclass(slots=True)
class _Edges:
    sites: list[_Site] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (qualname, context change)


def _async_io_kind(name: str) -> str | None:
    for prefix, kind in _ASYNC_IO:
        if name.startswith(prefix):
            return kind
    return None


def _is_http_call(name: str) -> bool:
    last = name.rpartition(".")[2]
    return last in _HTTP_CALLS or last.startswith("async_")


def _display(name: str) -> str:
    return name.removeprefix("builtins.").removesuffix(".__call__").removesuffix(".__enter__")


class _Analysis:
    """Call-graph facts per function, computed once and shared by every route's walk."""

    def __init__(self, project: lint.Project, offloads: dict[str, list[str]],
                 facts: list[SourceFacts]) -> None:
        self.project = project
        self.offloads = offloads
        self.tables = _resolve_tables(project, facts)
        self.returns_table = {q: t for item in facts for q, t in item.returns_table.items()}
        self.loops = {q: r for item in facts for q, r in item.loops.items()}
        self.handlers = {q: r for item in facts for q, r in item.handlers.items()}
        self.table_calls: dict[str, list[object]] = {}
        for item in facts:
            for scope, table in item.table_calls:
                self.table_calls.setdefault(scope, []).append(table)
        self.edges: dict[str, _Edges] = {}
        self.site_info: dict[str, tuple[str, str, str, str, object]] = {}
        self.mounted: set[object] = set()

    def mounts_adapter(self, fn: lint.FunctionInfo, target: object, owner: str) -> bool:
        """Whether a Session method is called on a Session that mounts bridge.http's adapter.

        The Session is the same object when the receiver's symbolic value is the one the
        adapter was mounted on (``self.session``, a module global, a local); a class that
        mounts it in one method counts for all its methods.
        """
        if _session_key(fn, target, owner) in self.mounted:
            return True
        return fn.cls is not None and fn.cls in self.mounted

    def find_adapters(self, modules: Sequence[lint.ModuleIndex]) -> None:
        """The Sessions (and classes) that mount bridge.http's transport adapter."""
        for module in modules:
            for fn in module.functions.values():
                for site in fn.calls:
                    if not site.name.endswith("Adapter"):
                        continue
                    found = lint.meaning(self.project, site.target)
                    if not (found and found[1].startswith("bridge.")
                            and "Adapter" in found[1].rpartition(".")[2]):
                        continue
                    parents = [site.parent] + [use[1] for use in fn.uses.get(site.assigned, ())]
                    for index in parents:
                        if 0 <= index < len(fn.calls) and fn.calls[index].name == "mount":
                            mount = fn.calls[index]
                            self.mounted.add(_session_key(fn, mount.target, mount.owner))
                            if fn.cls is not None and mount.owner != fn.name:
                                self.mounted.add(fn.cls)

    def _bridge_session(self, target: object) -> bool:
        """Whether a Session method is called on bridge.http's own Session (adapter mounted)."""
        if not isinstance(target, tuple) or target[0] != "a":
            return False
        found = lint.meaning(self.project, target[1])
        return found is not None and found[0] == "instance" and found[1].startswith("bridge.")

    def of(self, fn: lint.FunctionInfo) -> _Edges:
        found = self.edges.get(fn.qualname)
        if found is None:
            found = self.edges[fn.qualname] = self._build(fn)
        return found

    def _build(self, fn: lint.FunctionInfo) -> _Edges:
        out = _Edges()
        runs: list[tuple[int, lint.CallSite]] = []
        parents_with_io: set[int] = set()
        for index, site in enumerate(fn.calls):
            if site.target is None or not lint.on_loop(site, fn, self.project):
                continue
            found = self._classify(out, fn, site)
            if found == "run":
                runs.append((index, site))
            elif found == "io":
                parents_with_io.add(site.parent)
        # bridge.run(coro) counts as one call on the loop unless the IO inside it is seen
        for index, site in runs:
            if index not in parents_with_io:
                self._add(out, fn, site, "loop", "bridge", "bridge.run", None)
        for target in self.offloads.get(fn.qualname, ()):
            out.calls.append((target, "offload"))
        for table in self.table_calls.get(fn.qualname, ()):
            self.table_edges(out, table)
        return out

    def _classify(self, out: _Edges, fn: lint.FunctionInfo, site: lint.CallSite) -> str | None:
        """Record what one call does: ``io`` (an IO site or a coroutine), ``run``, or None."""
        project = self.project
        callee = lint.called(project, site)
        if callee is None:
            found = lint.meaning(project, site.target)
            if found is not None and found[0] == "outside" \
                    and found[1].startswith(_HTTP_LIBRARY) and _is_http_call(found[1]):
                how = "async" if found[1].rpartition(".")[2].startswith("async_") else "bridge"
                self._add(out, fn, site, "http", how, found[1], None)
                return "io"
            self._dispatch(out, site.target)
            return None
        name, kind = callee.name, callee.kind
        if name.startswith(_LIBRARY):
            if name in _BRIDGE_RUNNERS or kind == "wrapper":
                return "run"
            if name.startswith(_HTTP_LIBRARY) and _is_http_call(name) \
                    and kind in ("block", "coro", "async", "sync"):
                how = "async" if kind in ("coro", "async") else "bridge"
                self._add(out, fn, site, "http", how, name, None)
                return "io"
            return None
        if kind == "block":
            entry = project.blocking_entry_for(site)
            if entry is None or not entry.transitive:
                return None
            io_kind = _CODE_KIND.get(entry.code, "configured")
            how = "io"
            if io_kind == "http" and entry.name.startswith("requests.Session.") \
                    and (self.mounts_adapter(fn, site.target, site.owner)
                         or self._bridge_session(site.target)):
                how = "bridge"
            self._add(out, fn, site, io_kind, how, entry.name, entry)
            return "io"
        if kind == "async":
            async_kind = _async_io_kind(name)
            if async_kind is None:
                return None
            self._add(out, fn, site, async_kind, "async", name, None)
            return "io"
        target = callee.fn
        if target is None or target.module.modname.startswith(_LIBRARY):
            return None
        if kind == "sync":
            out.calls.extend((alt.qualname, "same") for alt in callee.alts or (target,))
        elif kind in ("coro", "wrapper"):
            out.calls.append((target.qualname, "loop"))
            return "io"
        elif kind == "offloaded":
            out.calls.append((target.qualname, "offload"))
        return None

    def _dispatch(self, out: _Edges, target: object) -> None:
        """A call of what ``get_x(key)`` returns, where it returns ``TABLE[key]``."""
        if not isinstance(target, tuple) or target[0] != "r":
            return
        meant = lint.meaning(self.project, target[1])
        if meant is not None and meant[0] == "function" and meant[1] in self.returns_table:
            self.table_edges(out, self.returns_table[meant[1]])

    def table_edges(self, out: _Edges, table: object) -> None:
        """A call through a dispatch table reaches every function in the table."""
        if not isinstance(table, tuple) or table[0] != "n":
            return
        name = _chase(self.project, str(table[1]), self.tables)
        for qualname in self.tables.get(name or "", ()):
            fn = self.project.functions.get(qualname)
            if fn is not None:
                kind = self.project.function_kind(fn)
                out.calls.append((qualname, "loop" if kind in ("coro", "wrapper") else "same"))

    def _add(self, out: _Edges, fn: lint.FunctionInfo, site: lint.CallSite, kind: str,
             how: str, name: str, entry: object) -> None:
        key = f"{fn.module.path}:{site.line}:{site.col + 1}"
        out.sites.append((key, kind, how, name, entry))
        if key not in self.site_info:
            self.site_info[key] = (fn.module.path, fn.qualname, kind, name, entry)

    # -- walking ---------------------------------------------------------------------------

    def walk(self, starts: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
        """Breadth-first from ``(qualname, context)`` pairs: site -> status, site -> chain."""
        functions = self.project.functions
        parent: dict[tuple[str, str], tuple[str, str] | None] = {s: None for s in starts}
        queue = deque(starts)
        statuses: dict[str, str] = {}
        chains: dict[str, list[str]] = {}
        while queue:
            node = queue.popleft()
            fn = functions.get(node[0])
            if fn is None:
                continue
            edges = self.of(fn)
            ctx = node[1]
            for key, _, how, _, _ in edges.sites:
                status = _status(how, ctx)
                old = statuses.get(key)
                if old is None:
                    chains[key] = _chain(parent, node, functions)
                    statuses[key] = status
                elif old != status:
                    statuses[key] = worst(old, status)
            for target, change in edges.calls:
                nxt = (target, ctx if change == "same" else change)
                if nxt not in parent:
                    parent[nxt] = node
                    queue.append(nxt)
        return statuses, chains

    def in_loop(self, qualname: str, line: int) -> bool:
        """Whether a call runs once per item of a ``for`` loop (not on an ``except`` path)."""
        if not any(a <= line <= b for a, b in self.loops.get(qualname, ())):
            return False
        return not any(a <= line <= b for a, b in self.handlers.get(qualname, ()))

    def context_of(self, fn: lint.FunctionInfo, offloaded: set[str]) -> str:
        kind = self.project.function_kind(fn)
        if kind in ("coro", "wrapper"):
            return "loop"
        if fn.qualname in offloaded or kind == "offloaded":
            return "offload"
        return "thread"


def _session_key(fn: lint.FunctionInfo, target: object, owner: str) -> object:
    """Which Session object a method call is made on, as far as the source tells.

    The receiver's symbolic value alone cannot tell two Sessions apart (both are "the result
    of requests.Session()"), so the name it is called through is part of the key, and a local
    name (assigned in this function) is kept apart from every other function's.
    """
    base = target[1] if isinstance(target, tuple) and target[0] == "a" else None
    scope = fn.qualname if owner in fn.uses and not fn.name.startswith("<") else ""
    return (scope, base, owner)


def _status(how: str, ctx: str) -> str:
    if how == "async":
        return "migrated"
    if ctx == "loop":
        return "stalls_loop"
    if how == "bridge":
        return "migrated"
    return "offloaded" if ctx == "offload" else "blocking"


def _chain(parent: dict[tuple[str, str], tuple[str, str] | None], node: tuple[str, str],
           functions: dict[str, lint.FunctionInfo]) -> list[str]:
    names: list[str] = []
    current: tuple[str, str] | None = node
    while current is not None and len(names) < 50:
        fn = functions.get(current[0])
        names.append(fn.display if fn is not None else current[0])
        current = parent.get(current)
    names.reverse()
    return names


# -- driving -------------------------------------------------------------------------------


def scan(paths: Sequence[str], config: lint.LintConfig | None = None) -> Report:
    """Build the static report for the Python files under ``paths``.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    config = config or lint.LintConfig()
    started = time.perf_counter()
    files = lint.discover(paths, config)
    enabled = gc.isenabled()
    gc.disable()
    try:
        report = _scan(files, config, list(paths))
    finally:
        if enabled:
            gc.enable()
    report.seconds = time.perf_counter() - started
    return report


def _scan(files: list[str], config: lint.LintConfig, paths: list[str]) -> Report:
    naming = lint.naming()
    modules: list[lint.ModuleIndex] = []
    facts: list[SourceFacts] = []
    roots = [config.root]
    problems: list[str] = []
    lines = 0
    for path in files:
        name, is_package, root = naming.name(path)
        roots.append(root)
        try:
            module, tree, text = lint.index_file(path, name, is_package, config)
        except lint.FileProblem as problem:
            problems.append(problem.finding.render())
            continue
        except RecursionError:
            problems.append(f"{lint.shown(path)}: nests too deeply to be analysed; skipped")
            continue
        facts.append(scan_module(tree, module, text))
        del tree
        lines += text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        modules.append(module)
    project = lint.new_project(config, roots, naming)
    for module in modules:
        project.add(module)
    offloads = _resolve_offloads(project, facts)
    analysis = _Analysis(project, offloads, facts)
    analysis.find_adapters(modules)
    routes = _build_routes(project, facts, analysis)
    sites, module_counts = _build_sites(analysis, modules, routes,
                                        {t for ts in offloads.values() for t in ts})
    return Report(paths=paths, routes=routes, modules=module_counts, sites=sites,
                  files=len(files), lines=lines, problems=problems)


def _resolve_tables(project: lint.Project, facts: list[SourceFacts]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in facts:
        for name, values in item.tables.items():
            targets = [m[1] for m in (lint.meaning(project, v) for v in values)
                       if m is not None and m[0] == "function"]
            if targets:
                found[name] = targets
    return found


def _resolve_offloads(project: lint.Project, facts: list[SourceFacts]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in facts:
        for scope, value in item.offloads:
            meant = lint.meaning(project, value)
            if meant is not None and meant[0] == "function":
                found.setdefault(scope, []).append(meant[1])
    return found


# -- routes --------------------------------------------------------------------------------


def _build_routes(project: lint.Project, facts: list[SourceFacts],
                  analysis: _Analysis) -> list[RouteReport]:
    blueprints = {ident: decl for item in facts for ident, decl in item.blueprints.items()}
    apps = {ident for item in facts for ident in item.apps}
    edges: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for item in facts:
        for reg in item.registrations:
            child = _bp_ident(project, reg.child, blueprints)
            if child is not None:
                edges.setdefault(child, []).append((reg.parent, reg.url_prefix, reg.name))
    mounts = _mount_points(edges, blueprints)
    hooks = _Hooks(project, facts, edges)
    out: list[RouteReport] = []
    for item in facts:
        for decl in item.routes:
            views = _views(project, decl)
            if not views:
                continue
            around = hooks.around(decl.owner)
            for endpoint, prefix in mounts.get(decl.owner, [(None, "")]) \
                    if decl.owner not in apps else [(None, "")]:
                out.append(_route(project, analysis, decl, views, around, endpoint, prefix))
    out.sort(key=lambda r: (r.rule, r.endpoint))
    return out


class _Hooks:
    """The request hooks that run around a route: its own blueprint's, its parents', its app's."""

    def __init__(self, project: lint.Project, facts: list[SourceFacts],
                 edges: dict[str, list[tuple[str, str | None, str | None]]]) -> None:
        self.parents = {child: {parent for parent, _, _ in regs} for child, regs in edges.items()}
        self.own: dict[str, list[lint.FunctionInfo]] = {}
        self.app_wide: list[tuple[str, lint.FunctionInfo]] = []
        for item in facts:
            for owner, kind, value in item.hooks:
                meant = lint.meaning(project, value)
                fn = project.functions.get(meant[1]) if meant and meant[0] == "function" else None
                if fn is None:
                    continue
                if kind.endswith("_app_request"):
                    self.app_wide.append((owner, fn))
                else:
                    self.own.setdefault(owner, []).append(fn)

    def _lineage(self, ident: str) -> set[str]:
        seen = {ident}
        todo = [ident]
        while todo and len(seen) < 64:
            for parent in self.parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    def _roots(self, ident: str) -> set[str]:
        return {i for i in self._lineage(ident) if not self.parents.get(i)}

    def around(self, owner: str) -> list[lint.FunctionInfo]:
        lineage = self._lineage(owner)
        found = [fn for ident in sorted(lineage) for fn in self.own.get(ident, ())]
        roots = self._roots(owner)
        found += [fn for bp, fn in self.app_wide if self._roots(bp) & roots]
        return found


def _mount_points(edges: dict[str, list[tuple[str, str | None, str | None]]],
                  blueprints: Mapping[str, object]) -> dict[str, list[tuple[str | None, str]]]:
    """Blueprint ident -> [(endpoint prefix, URL prefix)] for each place it is registered."""

    def points(ident: str, depth: int) -> list[tuple[str | None, str]]:
        decl = blueprints[ident]
        name, own = decl.name, decl.url_prefix  # type: ignore[attr-defined]
        regs = edges.get(ident) or [("", None, None)]
        found: list[tuple[str | None, str]] = []
        for parent, prefix, rename in regs:
            here = prefix if prefix is not None else own
            label = rename or name
            if parent in blueprints and depth < 8:
                for parent_ep, parent_prefix in points(parent, depth + 1):
                    ep = f"{parent_ep}.{label}" if parent_ep else label
                    found.append((ep, _join(parent_prefix, here)))
            else:
                found.append((label, here))
        return found

    return {ident: points(ident, 0) for ident in blueprints}


def _join(prefix: str, rule: str) -> str:
    if not prefix:
        return rule
    return prefix.rstrip("/") + "/" + rule.lstrip("/") if rule else prefix


def _bp_ident(project: lint.Project, value: object, blueprints: Mapping[str, object]) -> str | None:
    if not isinstance(value, tuple) or not value:
        return None
    if value[0] == "id":
        return str(value[1])
    if value[0] != "n":
        return None
    return _chase(project, str(value[1]), blueprints)


def _chase(project: lint.Project, name: str, known: Mapping[str, object]) -> str | None:
    """Follow a dotted name through imports and re-exports to a key of ``known``."""
    value: object = ("n", name)
    seen = 0
    while isinstance(value, tuple) and value and value[0] == "n" and seen < 8:
        seen += 1
        name = str(value[1])
        if name in known:
            return name
        module_name, _, attr = name.rpartition(".")
        module = project.module(module_name) if module_name else None
        if module is None or attr not in module.bindings:
            return None
        value = module.bindings[attr]
    return None


def _views(project: lint.Project, decl: RouteDecl) -> list[lint.FunctionInfo]:
    functions = project.functions
    if decl.view_qualname and decl.view_qualname in functions:
        return [functions[decl.view_qualname]]
    meant = lint.meaning(project, decl.view)
    if meant is None:
        return []
    if meant[0] == "function" and meant[1] in functions:
        return [functions[meant[1]]]
    if meant[0] == "class":
        methods: dict[str, str] = {}
        for cls in project.mro(meant[1]):
            if isinstance(cls, str):
                continue
            for name, qualname in cls.methods.items():
                methods.setdefault(name, qualname)
        verbs = [methods[v] for v in HTTP_METHODS if v in methods]
        if not decl.explicit_methods and verbs:
            decl.methods = tuple(v.upper() for v in HTTP_METHODS if v in methods)
        chosen = verbs or ([methods["dispatch_request"]] if "dispatch_request" in methods else [])
        return [functions[q] for q in chosen if q in functions]
    return []


def _route(project: lint.Project, analysis: _Analysis, decl: RouteDecl,
           views: list[lint.FunctionInfo], hooks: list[lint.FunctionInfo],
           bp_endpoint: str | None, prefix: str) -> RouteReport:
    first = views[0]
    local = decl.endpoint or (decl.view_qualname.rpartition(".")[2] if decl.view_qualname
                              else first.name if not decl.view_is_class else first.cls or "")
    endpoint = f"{bp_endpoint}.{local}" if bp_endpoint else local
    kinds = {"async" if project.function_kind(v) == "coro" else "sync" for v in views}
    starts = [(v.qualname, "loop" if project.function_kind(v) == "coro" else "thread")
              for v in views + hooks]
    statuses, chains = analysis.walk(list(dict.fromkeys(starts)))
    route = RouteReport(endpoint=endpoint, rule=_join(prefix, decl.rule),
                        methods=sorted(decl.methods), view=first.qualname, path=first.module.path,
                        line=first.line, view_kind=kinds.pop() if len(kinds) == 1 else "mixed",
                        sites=statuses, chains=chains,
                        hooks=list(dict.fromkeys(h.qualname for h in hooks)))
    for key, status in statuses.items():
        kind = analysis.site_info[key][2]
        per = route.by_kind.setdefault(kind, {})
        per[status] = per.get(status, 0) + 1
    return route


# -- sites and modules ---------------------------------------------------------------------


def _build_sites(analysis: _Analysis, modules: list[lint.ModuleIndex], routes: list[RouteReport],
                 offloaded: set[str]) -> tuple[list[IOSite], list[ModuleCounts]]:
    from ._fixes import fix_for

    reached: dict[str, str] = {}
    by_site: dict[str, list[str]] = {}
    for route in routes:
        for key, status in route.sites.items():
            reached[key] = worst(reached[key], status) if key in reached else status
            by_site.setdefault(key, []).append(route.endpoint)
    sites: list[IOSite] = []
    counts: list[ModuleCounts] = []
    functions = analysis.project.functions
    for module in modules:
        per = ModuleCounts(module.path)
        seen: set[str] = set()
        for fn in module.functions.values():
            ctx = analysis.context_of(fn, offloaded)
            for key, kind, how, name, entry in analysis.of(fn).sites:
                if key in seen:
                    continue
                seen.add(key)
                status = reached.get(key) or _status(how, ctx)
                per.add(kind, status)
                path, qualname, _, _, _ = analysis.site_info[key]
                _, line, col = key.rsplit(":", 2)
                owner = functions.get(qualname)
                sites.append(IOSite(
                    id=key, path=path, line=int(line), col=int(col),
                    function=owner.display if owner else qualname, call=_display(name),
                    kind=kind, status=status,
                    fix=fix_for(kind, status, name, entry, analysis.in_loop(qualname, int(line))),
                    routes=sorted(set(by_site.get(key, []))),
                    in_loop=analysis.in_loop(qualname, int(line))))
        if per.total:
            counts.append(per)
    sites.sort(key=lambda s: (s.path, s.line, s.col))
    counts.sort(key=lambda m: m.path)
    return sites, counts
