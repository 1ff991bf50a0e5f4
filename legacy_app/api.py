"""The JSON API: sites, their checks, check-all runs, and a probe of one site.

=======  =============================  ==============================================
GET      ``/api/sites``                 every site with its state and uptime
POST     ``/api/sites``                 ``{"url": ..., "name": ...}`` → 201 / 400 / 409
GET      ``/api/sites/<id>``            one site with its state
DELETE   ``/api/sites/<id>``            204, or 404
GET      ``/api/sites/<id>/checks``     its history, newest first (``?limit=``)
POST     ``/api/sites/<id>/probe``      check it now on the shared loop (``async def``)
POST     ``/api/check-all``             ``{"checker": "legacy"|"bridge"}`` (optional)
GET      ``/api/runs``                  the latest check-all runs
=======  =============================  ==============================================

The API is exempt from the forms' CSRF tokens; instead every POST must carry a JSON body
(``Content-Type: application/json``), which a cross-site HTML form cannot send, and a
cross-site script can only send after a CORS preflight this app never grants. DELETE is
likewise impossible from a form and always preflighted.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from legacy_app import storage
from legacy_app.checkers import CHECKERS, run_check_all
from legacy_app.db import get_db
from legacy_app.errors import error_response
from legacy_app.probe import probe_site
from legacy_app.validation import InvalidSite, normalize_name, normalize_url

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.errorhandler(HTTPException)
def json_error(exc: HTTPException) -> Response | HTTPException:
    """Answer API errors as ``{"error": ...}`` instead of an HTML page."""
    return error_response(exc)


@bp.before_request
def require_json_body() -> None:
    """Refuse a POST that is not JSON (the API's defence against cross-site requests)."""
    if request.method == "POST" and not request.is_json:
        abort(415, description="send a JSON body with 'Content-Type: application/json'")


def _json_body() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the JSON decoder gives up on deep nesting this way, not ValueError
        abort(400, description="the JSON body is nested too deeply; send a flat JSON object")
    if body is None:
        body = {} if not request.get_data() else None
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object, e.g. {\"url\": \"https://example.com/\"}")
    return body


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    """``body[key]`` if it is a string, None if absent or null; 400 for any other JSON type."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        abort(400, description=f"{key} must be a string, got a JSON {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), type(value).__name__)


def _status_or_404(site_id: int) -> dict[str, Any]:
    rows = storage.site_statuses(get_db(), site_id)
    if not rows:
        abort(404, description=f"there is no site {site_id}")
    return rows[0]


@bp.get("/sites")
def list_sites() -> Response:
    """Every site with its state."""
    return jsonify(sites=storage.site_statuses(get_db()))


@bp.post("/sites")
def create_site() -> tuple[Response, int]:
    """Add a site; 400 with the reason if invalid, 409 if already monitored."""
    body = _json_body()
    try:
        url = normalize_url(_optional_str(body, "url"), current_app.config["SSRF_POLICY"])
        site = storage.add_site(get_db(), url, normalize_name(_optional_str(body, "name"), url))
    except InvalidSite as exc:
        abort(400, description=str(exc))
    except storage.DuplicateSite as exc:
        abort(409, description=str(exc))
    return jsonify(site.to_dict()), 201


@bp.get("/sites/<site_id:site_id>")
def get_site(site_id: int) -> Response:
    """One site with its state."""
    return jsonify(_status_or_404(site_id))


@bp.delete("/sites/<site_id:site_id>")
def delete_site(site_id: int) -> tuple[str, int]:
    """Delete a site and its history."""
    if not storage.delete_site(get_db(), site_id):
        abort(404, description=f"there is no site {site_id}")
    return "", 204


@bp.get("/sites/<site_id:site_id>/checks")
def site_checks(site_id: int) -> Response:
    """A site's checks, newest first."""
    _status_or_404(site_id)
    limit = request.args.get("limit", 200, type=int)
    if limit is None or not 1 <= limit <= 10_000:
        abort(400, description="limit must be an integer in 1..10000")
    return jsonify(checks=storage.site_checks(get_db(), site_id, limit))


@bp.post("/sites/<site_id:site_id>/probe")
async def probe(site_id: int) -> Response:
    """Check one site now on the shared loop; the result as stored."""
    found = await probe_site(site_id)
    if found is None:
        abort(404, description=f"there is no site {site_id}")
    site, result = found
    return jsonify(site=site.to_dict(), ok=result.ok, status_code=result.status_code,
                   latency_ms=result.latency_ms, error=result.error)


@bp.post("/check-all")
def check_all() -> Response:
    """Check every site with the checker named in the body (or config ``CHECKER``)."""
    checker = _optional_str(_json_body(), "checker") or request.args.get("checker") or current_app.config["CHECKER"]
    if checker not in CHECKERS:
        abort(400, description=f"unknown checker {checker!r}; choose one of {', '.join(CHECKERS)}")
    cfg = current_app.config
    run = run_check_all(get_db(), checker, timeout=cfg["CHECK_TIMEOUT"],
                        concurrency=cfg["CHECK_CONCURRENCY"])
    return jsonify(run)


@bp.get("/runs")
def list_runs() -> Response:
    """The latest check-all runs, newest first (``?limit=``, default 50)."""
    limit = request.args.get("limit", 50, type=int)
    if limit is None or not 1 <= limit <= 1000:
        abort(400, description="limit must be an integer in 1..1000")
    return jsonify(runs=storage.list_runs(get_db(), limit))
