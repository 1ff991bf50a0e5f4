import subprocess

from flask import Blueprint

bp = Blueprint("admin", __name__)


@bp.before_request
def only_admins() -> None:
    with open("admins.txt", encoding="utf-8") as fh:
        fh.read()


@bp.post("/reindex")
def reindex() -> str:
    subprocess.run(["true"], check=True)
    return "done"
