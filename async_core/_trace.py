"""The OpenTelemetry trace a bridged coroutine belongs to, read without importing OpenTelemetry.

OpenTelemetry keeps the active span in a context variable, so the context that ``bridge.run``
hands to the loop carries the request's trace along (that is why the Flask, requests and
aiohttp-client instrumentations give one trace per request across the bridge). The watchdog
reads it from the stalled coroutine's context, so that a stall report names the trace of the
request whose code blocked the loop. Nothing here runs unless the application already imported
``opentelemetry.trace``.
"""

from __future__ import annotations

import contextvars
import sys

__all__ = ["trace_id_in"]


def trace_id_in(context: contextvars.Context | None) -> str | None:
    """The 32-hex-digit trace id of the span active in ``context``, or ``None``."""
    trace = sys.modules.get("opentelemetry.trace")
    otel_context = sys.modules.get("opentelemetry.context")
    if context is None or trace is None or otel_context is None:
        return None
    kind = getattr(otel_context, "Context", None)
    if not isinstance(kind, type):
        return None
    try:
        for value in context.values():
            if isinstance(value, kind):
                span_context = trace.get_current_span(value).get_span_context()
                if span_context.is_valid:
                    return f"{span_context.trace_id:032x}"
    except Exception:  # a stall report must never fail for want of a trace id
        return None
    return None
