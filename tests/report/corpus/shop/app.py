from flask import Flask

from bridge import LoopBridge
from shop import orders
from shop.views import ItemAPI, legacy_view


def stamp(response):
    response.headers["X-Shop"] = "1"
    return response


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/health")
    def health() -> str:
        return "ok"

    from shop.admin import bp as admin_bp

    orders.bp.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(orders.bp, url_prefix="/orders")
    app.add_url_rule("/items/<int:item_id>", view_func=ItemAPI.as_view("item"))
    app.add_url_rule("/legacy", "legacy", legacy_view, methods=["GET", "POST"])
    app.after_request(stamp)
    LoopBridge(app)
    return app
