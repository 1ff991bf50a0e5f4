"""Annotated module-level registries, with a literal value or an empty one filled later."""

from __future__ import annotations

import requests


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def get(self, path: str) -> bytes:
        return self.http.get(self.base + path, timeout=5).content

    def name(self) -> str:
        return self.base


CLIENTS: dict[str, Client] = {"api": Client("https://api"), "cdn": Client("https://cdn")}
SESSIONS: dict[str, requests.Session] = {}
BACKUPS: list[requests.Session] = []
NAMES: dict[str, str] = {"api": "API"}


def register(name: str) -> None:
    SESSIONS[name] = requests.Session()


async def fetch(name: str, path: str) -> bytes:
    CLIENTS[name].name()
    SESSIONS[name].get(path, timeout=5)
    for backup in BACKUPS:
        backup.head(path, timeout=5)
    return CLIENTS[name].get(path)


async def label(name: str) -> str:
    return NAMES[name].upper() + CLIENTS[name].name()
