"""How the monitor answers a request it refuses: the limits it enforces and its error bodies.

Hostile input never reaches the code as a 500:

- **ids** in URLs are ``<site_id:...>``: a positive int that fits SQLite's 64-bit integer
  (anything else does not match the route, so it is a 404 like any missing site);
- **bodies** larger than ``MAX_CONTENT_LENGTH`` are refused with 413 before they are read,
  form fields larger than ``MAX_FORM_MEMORY_SIZE`` and forms with more than
  ``MAX_FORM_PARTS`` parts likewise (:class:`MonitorRequest` reads them on every Flask 3);
- **errors** are answered as ``{"error": "..."}`` JSON, except for a browser asking for a
  page (``Accept`` names ``text/html``), which gets Flask's HTML error page.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, request
from flask.wrappers import Request
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

#: The largest id SQLite stores (a signed 64-bit integer).
MAX_ID = 2**63 - 1

#: Size limits, in bytes and parts; each is a config key of the same name.
LIMITS: dict[str, int] = {
    "MAX_CONTENT_LENGTH": 64 * 1024,      # a whole request body
    "MAX_FORM_MEMORY_SIZE": 16 * 1024,    # one form field (a URL is at most 2,000 characters)
    "MAX_FORM_PARTS": 50,                 # fields of one form
}


class SiteIdConverter(IntegerConverter):
    """``<site_id:name>``: an int in 1..2**63-1; other numbers do not match (404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)


class MonitorRequest(Request):
    """Flask's request with the form limits read from the app's config on every Flask 3."""

    # werkzeug's are settable attributes (Flask 3.1's, properties); these follow the config
    @property  # type: ignore[misc]
    def max_form_memory_size(self) -> int | None:  # type: ignore[override]
        """``MAX_FORM_MEMORY_SIZE`` of the app (Flask 3.0 would not read it)."""
        return int(current_app.config["MAX_FORM_MEMORY_SIZE"]) if current_app else None

    @property  # type: ignore[misc]
    def max_form_parts(self) -> int | None:  # type: ignore[override]
        """``MAX_FORM_PARTS`` of the app (Flask 3.0 would not read it)."""
        return int(current_app.config["MAX_FORM_PARTS"]) if current_app else None


def wants_html() -> bool:
    """True when the client asks for a page: not an API URL, and ``Accept`` names text/html."""
    if request.path.startswith("/api/"):
        return False
    return any(mime == "text/html" and quality > 0 for mime, quality in request.accept_mimetypes)


def error_response(exc: HTTPException) -> Response | HTTPException:
    """``{"error": ...}`` with the status, or Flask's HTML page for a browser."""
    if exc.code == 413:
        cfg = current_app.config
        exc.description = (f"the request is larger than this monitor accepts: at most "
                           f"{cfg['MAX_CONTENT_LENGTH']} bytes in all (MAX_CONTENT_LENGTH), "
                           f"{cfg['MAX_FORM_MEMORY_SIZE']} bytes per form field (MAX_FORM_MEMORY_SIZE) "
                           f"and {cfg['MAX_FORM_PARTS']} form fields (MAX_FORM_PARTS)")
    if wants_html():
        return exc
    resp = jsonify(error=exc.description or exc.name)
    resp.status_code = exc.code or 500
    return resp


def unexpected_error(exc: InternalServerError) -> Response | HTTPException:
    """A 500 keeps the shape of every other error (the cause is in the log, not the body)."""
    return error_response(InternalServerError(description="the monitor failed on this request; see its log"))


def validate_limits(config: Any) -> None:
    """Raise ValueError for a size limit that is not a positive int."""
    for key in LIMITS:
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive int (bytes or parts), got {value!r}")


def init_app(app: Flask) -> None:
    """Install the request class and the error handlers (call before adding routes)."""
    app.request_class = MonitorRequest
    app.url_map.converters["site_id"] = SiteIdConverter
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(InternalServerError, unexpected_error)
