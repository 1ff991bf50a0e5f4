"""LB1xx through names as people write them."""
import os
import requests as r
import urllib.request
from time import sleep
from requests import get as fetch
from subprocess import run as sh


async def aliased(url):
    r.get(url)
    fetch(url)
    sleep(0.5)
    sh(["true"])


async def module_attribute_chains(url):
    urllib.request.urlopen(url)
    os.path.getsize("x")


async def import_inside():
    import shutil
    from requests import Session as S

    shutil.rmtree("/tmp/x")
    S().get("u")


async def requests_session_factory():
    s = r.session()
    s.post("u")
