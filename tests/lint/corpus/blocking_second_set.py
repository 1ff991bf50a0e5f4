"""LB1xx/LB2xx: blocking shapes met in real code, and their non-blocking look-alikes."""
import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import os
import select
import sqlite3
import threading
import urllib.request
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor

import boto3
import psycopg2.extras
import psycopg2.pool
import redis
import requests

log = logging.getLogger(__name__)
DEBUG = False


async def streamed(url, resp: requests.Response):
    for chunk in resp.iter_content(8192):
        log.debug("chunk %d", len(chunk))
    session = requests.Session()
    reply = session.get(url, stream=True)
    return [line for line in resp.iter_lines()], reply


async def files_and_digests(path):
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
    return digest.hexdigest()


async def values_not_calls(url, urls, paths):
    head = functools.partial(requests.head, timeout=3)
    head(url)
    newest = max(paths, key=os.path.getmtime)
    sizes = list(map(os.path.getsize, paths))
    ordered = sorted(paths, key=len)
    labels = list(map(str, urls))
    offloaded = await asyncio.to_thread(sorted, paths, key=os.path.getmtime)
    return newest, sizes, ordered, labels, offloaded


async def databases(db, dsn, rows):
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("select 1")
    pool = psycopg2.pool.ThreadedConnectionPool(1, 4, dsn)
    conn2 = pool.getconn()
    cur = conn2.cursor()
    psycopg2.extras.execute_values(cur, "insert into t values %s", rows)
    client = redis.Redis()
    channel = client.pubsub()
    channel.subscribe("events")
    return channel.get_message()


async def clouds_and_rpc(bucket, url):
    s3 = boto3.client("s3")
    s3.get_object(Bucket=bucket, Key="k")
    proxy = xmlrpc.client.ServerProxy(url)
    proxy.ping()
    opener = urllib.request.build_opener()
    with opener.open(url) as resp:
        return resp.read()


async def thread_results(job):
    with ThreadPoolExecutor() as pool:
        return pool.submit(job).result()


async def polls_only(pid, sock, event: threading.Event):
    os.waitpid(pid, os.WNOHANG)
    os.waitpid(pid, 0 | os.WNOHANG)
    event.wait(0)
    event.wait(timeout=0)
    select.select([sock], [], [], 0)
    return None


async def waits_for_real(pid, sock, event: threading.Event):
    os.waitpid(pid, 0)
    event.wait(5)
    select.select([sock], [], [])
    return None


def load_config(fp):
    if isinstance(fp, (str, os.PathLike)):
        with open(fp) as fh:
            return json.load(fh)
    return json.load(fp)


def read_text(source):
    if hasattr(source, "read"):
        return source.read()
    else:
        with open(source) as fh:
            return fh.read()


def maybe_open(target):
    fh = open(target, "w") if not hasattr(target, "write") else target
    return fh


def trace(message):
    if __debug__:
        with open("/tmp/trace.log", "a") as fh:
            fh.write(message)
    if DEBUG:
        os.stat("/tmp/trace.log")
    loop = asyncio.get_running_loop()
    if loop.get_debug():
        os.listdir("/tmp")
    if log.isEnabledFor(logging.DEBUG):
        os.path.exists("/tmp/trace.log")


def really_blocks(path):
    if path:
        return os.stat(path)
    return None


async def callers(buf, path):
    load_config(buf)
    read_text(buf)
    maybe_open(buf)
    trace("tick")
    really_blocks(path)
    if isinstance(path, str):
        open(path).close()
    return None
