"""``python -m loopbridge.lint PATH ...``: the same command as ``loopbridge lint``."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    main()
