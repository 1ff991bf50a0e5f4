import requests
from flask import Blueprint

import bridge.http as http
from bridge import to_async
from shop import helpers

bp = Blueprint("orders", __name__)


@bp.get("/")
def list_orders() -> dict:
    return {"rates": helpers.fetch_rates()}


@bp.post("/<int:order_id>/notify")
def notify(order_id: int) -> str:
    helpers.get_notifier("legacy")(order_id)
    return "sent"


@bp.get("/<int:order_id>/track")
def track(order_id: int) -> dict:
    return helpers.Carrier().track(str(order_id))


@bp.route("/<int:order_id>", methods=["GET", "HEAD"])
async def show(order_id: int) -> dict:
    row = await to_async(helpers.load_order)(order_id)
    resp = await http.async_get(f"https://stock.example/{order_id}")
    return {"order": row, "stock": resp.json()}


@bp.get("/stock/<sku>")
def stock(sku: str) -> dict:
    return helpers.fetch_stock(sku)


@bp.get("/bad")
async def bad() -> str:
    return requests.get("https://slow.example/").text
