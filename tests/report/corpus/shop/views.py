import asyncio

from flask.views import MethodView


class ItemAPI(MethodView):
    def get(self, item_id: int) -> str:
        with open(f"items/{item_id}.json", encoding="utf-8") as fh:
            return fh.read()

    async def delete(self, item_id: int) -> str:
        await asyncio.sleep(0)
        return ""


def legacy_view() -> str:
    return "legacy"
