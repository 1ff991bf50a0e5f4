"""LB1xx on methods of blocking objects whose type is clear from where they come from."""
from __future__ import annotations

import sqlite3
import socket
import threading
import queue
from pathlib import Path
from typing import Optional, TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from redis import Redis

SESSION = requests.Session()
LOCK = threading.Lock()


class Client:
    timeout: float = 3.0
    jobs: queue.Queue

    def __init__(self, path: str) -> None:
        self.session = requests.Session()
        self.db = sqlite3.connect(path)
        self.path = Path(path)

    async def fetch(self, url):
        return self.session.get(url, timeout=self.timeout)

    async def query(self):
        cur = self.db.cursor()
        cur.execute("select 1")
        return cur.fetchall()

    async def size(self):
        return (self.path / "data.json").stat()

    async def next_job(self):
        return self.jobs.get()


async def module_level_objects():
    SESSION.get("u")
    LOCK.acquire()


async def annotated(conn: sqlite3.Connection, sock: Optional[socket.socket], cache: "Redis"):
    conn.commit()
    sock.sendall(b"x")
    cache.set("k", "v")


async def with_statement(path):
    with open(path) as fh:
        fh.readline()
    with sqlite3.connect(path) as conn:
        conn.executemany("insert", [])


def make_session() -> requests.Session:
    return requests.Session()


async def through_factory():
    make_session().get("u")
