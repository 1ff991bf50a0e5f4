"""A generated Flask app of any size, for the report's speed measurement and a scale test.

``write_app(root, modules)`` writes the package ``synthapp`` under ``root``: ``modules``
blueprint modules of about 250 lines each (routes, helpers calling requests, sqlite3, files,
``time.sleep`` and ``bridge.http``, calls into the previous module, and plain code), plus an
app factory registering every blueprint.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_app"]

_HEAD = '''"""Generated module {i}."""

import json
import sqlite3
import time

import requests
from flask import Blueprint

import bridge.http
{prev_import}

bp = Blueprint("m{i}", __name__, url_prefix="/m{i}")


def fetch_{i}(url: str) -> dict:
    return requests.get(url, timeout=5).json()


def fetch_bridged_{i}(url: str) -> dict:
    return bridge.http.get(url, timeout=5).json()


def load_{i}(key: int) -> tuple:
    conn = sqlite3.connect("db{i}.sqlite3")
    return conn.execute("SELECT * FROM t WHERE k = ?", (key,)).fetchone()


def read_{i}(name: str) -> str:
    with open(name, encoding="utf-8") as fh:
        return fh.read()


def backoff_{i}(n: int) -> None:
    time.sleep(0.01 * n)


@bp.get("/a")
def route_a_{i}() -> dict:
    return {{"x": fetch_{i}("https://a.example/{i}"), "y": {prev_call}}}


@bp.post("/b/<int:key>")
def route_b_{i}(key: int) -> dict:
    backoff_{i}(1)
    return {{"row": load_{i}(key)}}


@bp.get("/c")
def route_c_{i}() -> dict:
    return fetch_bridged_{i}("https://c.example/{i}")


@bp.route("/d", methods=["GET", "POST"])
async def route_d_{i}() -> dict:
    resp = await bridge.http.async_get("https://d.example/{i}")
    return resp.json()


@bp.get("/e")
def route_e_{i}() -> str:
    return read_{i}("e{i}.txt")
'''

_FILLER = '''

class Model{i}_{j}:
    """Plain code: no IO."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[int] = []

    def fill(self) -> None:
        for k in range(self.size):
            if k % 3 == 0:
                self.items.append(k * 2)
            elif k % 3 == 1:
                self.items.append(k + 7)
            else:
                self.items.append(-k)

    def total(self) -> int:
        return sum(x for x in self.items if x > 0)

    def describe(self) -> str:
        data = {{"size": self.size, "total": self.total(), "first": self.items[:3]}}
        return json.dumps(data, sort_keys=True)


def compute_{i}_{j}(values: list[int]) -> int:
    best = 0
    for v in values:
        model = Model{i}_{j}(v)
        model.fill()
        best = max(best, model.total())
    return best
'''


def write_app(root: Path, modules: int) -> int:
    """Write the app under ``root``; return the number of lines written."""
    pkg = root / "synthapp"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('"""Generated app."""\n')
    lines = 1
    for i in range(modules):
        prev_import = f"from synthapp import m{i - 1}" if i else ""
        prev_call = f"m{i - 1}.load_{i - 1}(1)" if i else "None"
        text = _HEAD.format(i=i, prev_import=prev_import, prev_call=prev_call)
        text += "".join(_FILLER.format(i=i, j=j) for j in range(6))
        (pkg / f"m{i}.py").write_text(text)
        lines += text.count("\n")
    regs = "".join(f"    app.register_blueprint(m{i}.bp)\n" for i in range(modules))
    imports = "".join(f"from synthapp import m{i}\n" for i in range(modules))
    factory = (f'"""The factory."""\n\nfrom flask import Flask\n\n{imports}\n\n'
               f"def create_app() -> Flask:\n    app = Flask(__name__)\n{regs}    return app\n")
    (pkg / "factory.py").write_text(factory)
    return lines + factory.count("\n")
