"""File objects (and HTTP bodies) handed to functions that read or write them."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import sys
import tarfile
import urllib.request
import zipfile
from typing import IO, BinaryIO, TextIO

import requests
import yaml


async def load_config(path: str) -> dict:
    with open(path) as fh:
        return json.load(fh)


async def load_state(fh: io.BufferedReader) -> object:
    return pickle.load(fh)


async def load_yaml(path: str) -> object:
    stream = open(path)
    return yaml.safe_load(stream)


async def save(report: dict, out: io.TextIOWrapper) -> None:
    json.dump(report, out)


async def save_state(state: object, out: io.BufferedWriter) -> None:
    pickle.dump(state, out)


async def from_stdin() -> object:
    return json.load(sys.stdin)


async def from_response(resp: urllib.request.OpenerDirector, url: str) -> object:
    return json.load(resp.open(url))


async def from_stream(r: requests.Response) -> object:
    return json.load(r.raw)


# negatives: in-memory objects and strings are not IO; an abstract file-like may be in memory
async def from_any(fh: TextIO, out: IO[bytes], blob: BinaryIO) -> object:
    out.write(blob.read())
    return json.load(fh)


async def from_text(text: str) -> object:
    json.loads(text)
    json.load(io.StringIO(text))
    pickle.dump({"a": 1}, io.BytesIO())
    return yaml.safe_load(text)


async def to_text(report: dict) -> str:
    buf = io.StringIO()
    json.dump(report, buf)
    return json.dumps(report)


async def unpack(data: bytes, out: io.BufferedWriter) -> object:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # bytes in memory: no IO
        body = archive.read(archive.namelist()[0])
    shutil.copyfileobj(io.BytesIO(data), io.BytesIO())
    tar = tarfile.open(fileobj=io.BytesIO(data))
    shutil.copyfileobj(io.BytesIO(data), out)
    return body, tar, zipfile.ZipFile("real.zip")
