"""Suppression comments: flake8 and ruff style."""
import time

import requests


async def suppressed(url):
    requests.get(url)  # noqa: LB101
    time.sleep(1)  # noqa
    requests.get(url)  # noqa: LB1
    requests.get(url)  # noqa: E501,LB101
    requests.get(url)  # noqa: E501
    time.sleep(2)  # NOQA:LB102
