"""Suppression comments: flake8 and ruff style."""
import asyncio
import time

import requests


async def suppressed(url):
    requests.get(url)  # noqa: LB101
    time.sleep(1)  # noqa
    requests.get(url)  # noqa: LB1
    requests.get(url)  # noqa: E501,LB101
    requests.get(url)  # noqa: E501
    time.sleep(2)  # NOQA:LB102


async def stale_suppressions(url):
    await asyncio.sleep(1)  # noqa: LB102
    requests.get(url)  # noqa: LB101, LB305
    x = 1  # noqa: LB1
    y = 2  # noqa: LB999
    text = "# noqa: LB101 in a string is not a comment"
    z = 3  # noqa
    w = 4  # noqa: E501
    v = 5  # noqa: LB102, LB801
    return x, y, text, z, w, v
