"""The one set of validators for numbers, seconds and booleans a user sets.

Every public setting that is a duration, a count or a flag goes through these functions, so
the same bad value gets the same clear error wherever it is written (an argument, a config
field, a Flask ``LOOPBRIDGE_*`` key, an environment variable). Each error names the key the
user wrote and says what is accepted.

Rules for seconds: a real ``int`` or ``float`` (never a ``bool``, a string or ``None`` unless
allowed), never NaN, never infinite (use ``None`` for "no limit" where it is allowed), and
``> 0`` (or ``>= 0`` where zero means "off" or "no wait").
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["TRUE_WORDS", "FALSE_WORDS", "check_bool", "check_int", "check_seconds", "parse_bool"]

#: the words accepted for a boolean in an environment variable or an ini/config string
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def check_seconds(
    name: str, value: Any, *, allow_none: bool = False, allow_zero: bool = False, unit: str = "seconds"
) -> float | None:
    """Return ``value`` as float seconds, or raise ``TypeError``/``ValueError`` naming ``name``.

    ``allow_none`` accepts ``None`` (meaning "no limit"); ``allow_zero`` accepts ``0``; ``unit``
    only changes the wording (``"ms"`` for the watchdog threshold).

    Example::

        >>> check_seconds("LOOPBRIDGE_TIMEOUT", 2)
        2.0
    """
    if value is None and allow_none:
        return None
    limit = ">= 0" if allow_zero else "> 0"
    what = f"a number of {unit} {limit}" + (" or None (no limit)" if allow_none else "")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be {what}, not {value!r} ({type(value).__name__}).")
    if math.isnan(value) or math.isinf(value):
        hint = "; use None for no limit" if allow_none else ""
        raise ValueError(f"{name} must be {what}, got {value!r}{hint}.")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {what}, got {value!r}.")
    return float(value)


def check_int(name: str, value: Any, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) in range, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {value!r} ({type(value).__name__}).")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"in {minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}.")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a ``bool``; a string goes through :func:`parse_bool`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return parse_bool(name, value)
    raise TypeError(f"{name} must be True or False, not {value!r} ({type(value).__name__}).")


def parse_bool(name: str, raw: str) -> bool:
    """Parse ``true/false/1/0/yes/no/on/off`` (any case); anything else names ``name`` and ``raw``."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use one of true/false, 1/0, yes/no, on/off.")
