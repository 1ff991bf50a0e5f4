"""``loopbridge bench``: the payoff of migrating, measured against the alternatives.

Sections (each also importable on its own): :mod:`.roundtrip` (bridge round trip),
:mod:`.watchdog` (the watchdog's cost), :mod:`.fanout` (fan-out from sync code),
:mod:`.flask_e2e` (Flask under gunicorn), and the lint speed from ``loopbridge.lint._bench``.
Figures are ratios measured in one run on one machine, medians of interleaved rounds.
"""

from ._report import TARGETS, evaluate_targets

__all__ = ["TARGETS", "evaluate_targets"]
