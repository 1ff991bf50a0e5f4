"""``python -m loopbridge.lint PATH ...``: the same command as ``loopbridge lint``."""

from __future__ import annotations

import logging

from ._cli import main

logger = logging.getLogger(__name__)

if __name__ == "__main__":
    main()
