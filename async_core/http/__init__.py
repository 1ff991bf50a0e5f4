"""``async_core.http``: the one HTTP feature of the loop side.

Modules, from pure to IO:

- ``_request``: request preparation (validated in the caller's thread) and redirect rewriting;
- ``_response``: the immutable :class:`Response` and :class:`Headers` handed across threads;
- ``_config``: :class:`HttpConfig`, with the retry policy as pure methods;
- ``_ssrf``: the address policy and the guarded resolver (the SSRF guard);
- ``_translate``: the one place where aiohttp / OS errors become the project's own;
- ``_client``: :class:`HttpClient`, one aiohttp session per loop, retries and redirects;
- ``_api``: :class:`Request` and the ``async_*`` functions for code on the loop, over fan-out.

``bridge.http`` wraps the ``async_*`` functions in ``bridge.run`` for sync code.
"""

from ._api import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    Request,
    async_get,
    async_map,
    async_request,
    check_map_args,
    fan_out_requests,
    loop_client,
    prepare_items,
    send_on_loop,
)
from ._client import (
    HttpClient,
    default_http_config,
    http_client,
    loop_http_client,
    reset_http_config,
    set_default_http_config,
    use_http_config,
)
from ._config import IDEMPOTENT, HttpConfig
from ._request import USE_CONFIG, PreparedRequest, parse_timeout, parse_url, prepare_request
from ._response import Headers, Response
from ._ssrf import AddressPolicy, GuardedResolver
from ._translate import translate_error

__all__ = [
    "DEFAULT_CONCURRENCY",
    "IDEMPOTENT",
    "MAX_CONCURRENCY",
    "USE_CONFIG",
    "AddressPolicy",
    "GuardedResolver",
    "Headers",
    "HttpClient",
    "HttpConfig",
    "PreparedRequest",
    "Request",
    "Response",
    "async_get",
    "async_map",
    "async_request",
    "check_map_args",
    "default_http_config",
    "fan_out_requests",
    "http_client",
    "loop_client",
    "loop_http_client",
    "parse_timeout",
    "parse_url",
    "prepare_items",
    "prepare_request",
    "send_on_loop",
    "reset_http_config",
    "set_default_http_config",
    "translate_error",
    "use_http_config",
]
