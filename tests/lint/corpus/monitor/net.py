"""Sync helpers: fine on their own, blocking when a coroutine calls them."""
import time

import requests


def fetch(url):
    return requests.get(url, timeout=5)


def fetch_with_retry(url, tries=3):
    for _ in range(tries):
        try:
            return fetch(url)
        except requests.RequestException:
            time.sleep(1)
    return None


def ping_a(n):
    if n:
        return ping_b(n - 1)
    return None


def ping_b(n):
    if n > 10:
        time.sleep(n)
    return ping_a(n)


def pure(n):
    return n * 2
