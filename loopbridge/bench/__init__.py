"""``loopbridge bench``: the payoff of migrating, measured against the alternatives.

The one home of every benchmark. Sections (each also importable and callable on its own):
:mod:`.roundtrip` (bridge round trip), :mod:`.watchdog` (the watchdog's cost), :mod:`.fanout`
(the 400-call batch from sync code, and ``bridge.http.map`` next to bare aiohttp),
:mod:`.session` (unchanged ``requests.Session`` code with ``LoopBridgeAdapter`` mounted),
:mod:`.flask_e2e` (Flask under gunicorn), :mod:`.peers` (gevent, eventlet and awaitlet next to
the bridge, each way in a process of its own: :mod:`.peer_child`) and :mod:`.lint` (the lint's
speed). The HTTP sections talk to :mod:`.upstream`, the bench's own server on 127.0.0.1 in a
process of its own.
Figures are ratios measured in one run on one machine, medians of interleaved rounds.

Importing this package loads none of the runtime (aiohttp, Flask, asgiref, ``async_core``,
``bridge``): each section imports what it measures when it runs.
"""

from ._report import TARGETS, evaluate_targets

__all__ = ["TARGETS", "evaluate_targets"]
