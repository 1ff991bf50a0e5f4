import sqlite3
import time

import requests

import bridge.http


def fetch_rates() -> dict:
    return requests.get("https://rates.example/today", timeout=5).json()


def load_order(order_id: int) -> tuple:
    conn = sqlite3.connect("shop.db")
    return conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()


def notify_legacy(order_id: int) -> None:
    time.sleep(0.1)


def notify_bridge(order_id: int) -> None:
    bridge.http.post("https://hooks.example/orders", json={"id": order_id})


NOTIFIERS = {"legacy": notify_legacy, "bridge": notify_bridge}


def get_notifier(name: str):
    return NOTIFIERS[name]


class Carrier:
    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.mount("https://", bridge.http.LoopBridgeAdapter())

    def track(self, code: str) -> dict:
        return self.session.get(f"https://carrier.example/{code}").json()


def fetch_stock(sku: str) -> dict:
    session = bridge.http.Session()
    return session.get(f"https://stock.example/{sku}").json()
