"""LB1xx: every catalogue family, called directly in a coroutine."""
import concurrent.futures
import ftplib
import getpass
import http.client
import os
import os.path
import pathlib
import queue
import shutil
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
import urllib.request

import httpx
import psycopg2
import pymongo
import pymysql
import redis
import requests
import urllib3


async def http_calls(url):
    requests.get(url)
    requests.post(url, data={})
    urllib.request.urlopen(url)
    conn = http.client.HTTPSConnection("example.org")
    conn.request("GET", "/")
    conn.getresponse()
    urllib3.PoolManager().request("GET", url)
    httpx.get(url)
    with httpx.Client() as client:
        client.get(url)


async def sleeping_and_processes():
    time.sleep(1)
    subprocess.run(["ls"])
    subprocess.check_output(["ls"])
    os.system("ls")
    os.popen("ls")
    os.waitpid(1, 0)
    proc = subprocess.Popen(["ls"])
    proc.wait()


async def files(path):
    fh = open(path)
    fh.read()
    pathlib.Path(path).read_text()
    shutil.copyfile(path, path + ".bak")
    os.remove(path)
    os.path.exists(path)
    os.listdir(".")


async def databases():
    db = sqlite3.connect(":memory:")
    db.execute("select 1")
    pg = psycopg2.connect("dbname=x")
    pg.cursor().execute("select 1")
    my = pymysql.connect(host="h")
    my.cursor().fetchall()
    cache = redis.Redis()
    cache.get("k")
    mongo = pymongo.MongoClient()
    mongo.app.users.find_one({})


async def network():
    sock = socket.create_connection(("h", 80))
    sock.recv(10)
    socket.gethostbyname("h")
    tls = ssl.create_default_context().wrap_socket(sock)
    tls.do_handshake()
    mail = smtplib.SMTP("mail")
    mail.sendmail("a", "b", "c")
    ftp = ftplib.FTP()
    ftp.login()


async def console():
    input("name? ")
    getpass.getpass()


async def thread_waits(fut: concurrent.futures.Future):
    lock = threading.Lock()
    lock.acquire()
    lock.acquire(blocking=False)
    with lock:
        pass
    threading.Event().wait()
    worker = threading.Thread(target=print)
    worker.start()
    worker.join()
    jobs = queue.Queue()
    jobs.get()
    jobs.get(block=False)
    jobs.get_nowait()
    fut.result()
    concurrent.futures.wait([fut])
