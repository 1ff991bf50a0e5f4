"""Sphinx configuration of the loopbridge documentation site.

Build it with ``sphinx-build -W --keep-going -n -b html docs docs/_build/html`` (what CI runs):
every warning fails the build — a broken link between pages or to a heading, a reference to a
name that does not exist in our packages, a docstring that does not render.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loopbridge._version import __version__  # noqa: E402  (after the path is set)

project = "loopbridge"
author = "the loopbridge developers"
copyright = "2026, the loopbridge developers"  # noqa: A001  (Sphinx's own setting name)
release = version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown: every heading down to ### gets an anchor (each lint code, ``lint.html#lb101``), and a
# link to a missing page or heading is a warning, so a failure in CI.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]
suppress_warnings: list[str] = []

# API reference: docstrings are reST with Google-style sections (Raises:, Returns:).
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Nitpicky (-n): a reference to one of our names must resolve. Names of other projects cannot
# be resolved offline (no intersphinx download in CI), so those are the only ones let through.
nitpicky = True
_FOREIGN = ("asyncio", "aiohttp", "requests", "urllib3", "flask", "werkzeug", "asgiref", "concurrent",
            "collections", "typing", "types", "contextvars", "threading", "ssl", "socket", "http",
            "ipaddress", "logging", "pathlib", "os", "click", "libcst", "ast", "uvloop", "prometheus_client",
            "multidict", "yarl", "json", "io", "datetime", "enum", "_contextvars", "weakref", "inspect")
nitpick_ignore_regex = [
    (r"py:.*", rf"(~?)({'|'.join(re.escape(m) for m in _FOREIGN)})(\..*)?"),
    # builtins and typing shorthands as they appear in signatures
    (r"py:.*", r"(int|float|str|bytes|bool|None|object|dict|list|tuple|set|frozenset|type|"
               r"Exception|BaseException|TimeoutError|RuntimeError|ValueError|TypeError|OSError|"
               r"ConnectionError|Callable|Awaitable|Coroutine|Iterable|Iterator|Mapping|Sequence|"
               r"AsyncIterator|Any|P|T|R|T_co|_T|_R|_P|ParamSpec|TypeVar|NoneType|ellipsis|"
               r"Ellipsis|MutableMapping|Generator|AsyncGenerator|Hashable|Literal|random\.Random|"
               r"dataclasses\.InitVar)"),
    # Flask, urllib3's Retry and aiohttp's resolver named short in docstrings and signatures
    (r"py:class", r"Flask|Retry|AbstractResolver"),
    # a private class shown in a public signature (a lease, an index): documented where it is used
    (r"py:class", r"[\w.]+\._\w+\.[A-Z]\w*"),
    # type variables of generic signatures (bridge._calls._R, ~_P): parameters, not names to document
    (r"py:class", r"~?([\w.]+\.)?_?[A-Z]"),
]


def _resolve_public(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve a short or private-module name to the one public name documented for it.

    Docstrings say ``:class:`Response``` or show ``async_core.http._client.SessionLease`` in a
    signature; the reference documents each object once, under its public name. A name that
    matches no documented object stays unresolved, and the build fails on it.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    last = target.rsplit(".", 1)[-1]
    domain = env.get_domain("py")
    matches = sorted(name for name in domain.objects if name == target or name.endswith("." + last))
    if not matches:
        return None
    best = min(matches, key=lambda name: (not name.startswith("bridge"), len(name)))
    return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", best, node, contnode)


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_public)
    return {"parallel_read_safe": True}

html_theme = "furo"
html_title = f"loopbridge {__version__}"
html_static_path: list[str] = []
html_theme_options = {"navigation_with_keys": True}
