"""Fan-out: run many awaitables with a concurrency bound, results in input order.

``concurrency`` worker tasks share one iterator over the items; each worker takes the next
index, awaits it, and stores its result (or its exception) in that slot. Compared with one task
per item behind a semaphore this creates ``min(concurrency, n)`` tasks instead of ``n`` (10 000
URLs cost 100 tasks, not 10 000), and nothing waits on a semaphore: a worker that finishes an
item simply takes the next one.

An overall ``deadline`` cancels the workers when it passes; items that had not finished get an
:class:`UpstreamTimeout` as their value, and every cancelled worker is awaited before
:func:`fan_out` returns, so no task is left pending. Coroutine objects that were never started
are closed (no "never awaited" warning).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ._errors import UpstreamTimeout
from ._validate import check_int, check_seconds

__all__ = ["Progress", "fan_out"]

logger = logging.getLogger(__name__)

#: called as ``progress(done, total)`` on the loop thread after each item
Progress = Callable[[int, int], object]
Item = Callable[[], Awaitable[Any]] | Awaitable[Any]

_PENDING: Any = object()


class _State:
    """What the workers share: the items, the result slots, the next index and the count."""

    __slots__ = ("done", "failure", "items", "next_index", "progress", "results", "return_exceptions", "total")

    def __init__(self, items: list[Item], progress: Progress | None, return_exceptions: bool) -> None:
        self.items: list[Item | None] = list(items)
        self.total = len(items)
        self.results: list[Any] = [_PENDING] * self.total
        self.next_index = 0
        self.done = 0
        self.progress = progress
        self.return_exceptions = return_exceptions
        self.failure: BaseException | None = None

    def report(self) -> None:
        progress = self.progress
        if progress is None:
            return
        try:
            progress(self.done, self.total)
        except Exception:  # a broken progress display must not fail the work
            logger.exception("loopbridge: fan_out progress callback failed; no more progress calls")
            self.progress = None


async def _worker(state: _State) -> None:
    items, results = state.items, state.results
    total = state.total
    while state.next_index < total and state.failure is None:
        i = state.next_index
        state.next_index = i + 1
        item = items[i]
        items[i] = None  # drop our reference as soon as the item is taken
        try:
            awaitable = item() if callable(item) else item
            results[i] = await awaitable  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - each item's failure is its result
            results[i] = exc
            if not state.return_exceptions:
                state.failure = exc
                return
        state.done += 1
        if state.progress is not None:
            state.report()


def _check_args(concurrency: int, deadline: float | None, progress: Progress | None, return_exceptions: bool) -> None:
    check_int("concurrency", concurrency, minimum=1)
    check_seconds("deadline", deadline, allow_none=True)
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable taking (done, total), or None.")
    if not isinstance(return_exceptions, bool):
        raise TypeError("return_exceptions must be a bool.")


def _check_items(items: Iterable[Item]) -> list[Item]:
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise TypeError(f"fan_out() needs an iterable of awaitables or factories, got {type(items).__name__}.")
    checked = list(items)
    for index, item in enumerate(checked):
        if not (callable(item) or inspect.isawaitable(item)):
            _close_all(checked)
            raise TypeError(
                f"fan_out() item {index} is a {type(item).__name__}; pass a coroutine, an awaitable, "
                "or a callable returning one (e.g. functools.partial(fetch, url))."
            )
    return checked


def _close_all(items: Iterable[Any]) -> None:
    for item in items:
        if inspect.iscoroutine(item):
            item.close()


async def _discard_untaken(items: list[Item | None]) -> None:
    """Close coroutines no worker took; cancel and await futures/tasks no worker took."""
    _close_all(items)
    futures = [item for item in items if isinstance(item, asyncio.Future) and not item.done()]
    for future in futures:
        future.cancel()
    if futures:
        await asyncio.wait(futures)
    for item in items:
        if isinstance(item, asyncio.Future) and item.done() and not item.cancelled():
            item.exception()  # mark retrieved


async def fan_out(
    items: Iterable[Item],
    *,
    concurrency: int,
    deadline: float | None = None,
    return_exceptions: bool = True,
    progress: Progress | None = None,
) -> list[Any]:
    """Await every item, at most ``concurrency`` at a time; return results in input order.

    Parameters:
        items: coroutines / awaitables, or callables returning one (a factory creates its
            coroutine only when a worker takes it, which keeps memory flat for huge inputs).
        concurrency: how many items run at once (>= 1).
        deadline: seconds for the whole batch; unfinished items get :class:`UpstreamTimeout`.
        return_exceptions: ``True`` (default) puts each item's exception in its slot and keeps
            going; ``False`` cancels the rest at the first failure and raises it.
        progress: ``progress(done, total)`` after each finished item (on the loop thread: keep
            it quick and non-blocking).

    Returns:
        A list, in input order, of each item's result or exception.

    Raises:
        TypeError, ValueError: bad arguments (before anything runs).
        Exception: with ``return_exceptions=False``, the first item's failure.

    Example::

        results = await fan_out([functools.partial(fetch, u) for u in urls], concurrency=50)
    """
    _check_args(concurrency, deadline, progress, return_exceptions)
    checked = _check_items(items)
    if not checked:
        return []
    state = _State(checked, progress, return_exceptions)
    workers = [asyncio.create_task(_worker(state)) for _ in range(min(concurrency, state.total))]
    try:
        await _wait(workers, deadline, state)
    finally:
        await _cancel_and_reap(workers)
        await _discard_untaken(state.items)
    if state.failure is not None:
        raise state.failure
    return _fill_unfinished(state, deadline)


async def _wait(workers: list[asyncio.Task[None]], deadline: float | None, state: _State) -> None:
    """Wait for the workers: all of them, the first failure, or the deadline."""
    when = asyncio.ALL_COMPLETED if state.return_exceptions else asyncio.FIRST_COMPLETED
    if state.return_exceptions and deadline is None:
        await asyncio.gather(*workers)
        return
    pending: set[asyncio.Task[None]] = set(workers)
    loop = asyncio.get_running_loop()
    end = None if deadline is None else loop.time() + deadline
    while pending and state.failure is None:
        timeout = None if end is None else end - loop.time()
        if timeout is not None and timeout <= 0:
            return
        done, pending = await asyncio.wait(pending, timeout=timeout, return_when=when)
        if not done:
            return


async def _cancel_and_reap(workers: list[asyncio.Task[None]]) -> None:
    """Cancel unfinished workers and wait until each has really ended."""
    unfinished = [w for w in workers if not w.done()]
    for worker in unfinished:
        worker.cancel()
    if unfinished:
        await asyncio.wait(unfinished)
    for worker in workers:  # retrieve outcomes so none is reported as never retrieved
        if not worker.cancelled():
            worker.exception()


def _fill_unfinished(state: _State, deadline: float | None) -> list[Any]:
    results = state.results
    if state.done == state.total:
        return results
    missing = 0
    for i, value in enumerate(results):
        if value is _PENDING:
            missing += 1
            results[i] = UpstreamTimeout(
                f"item {i} did not finish within the fan-out deadline of {deadline:g}s and was "
                "cancelled; raise deadline=, raise concurrency=, or lower the per-request timeout."
            )
    logger.info("loopbridge: fan_out deadline passed with %d of %d item(s) unfinished", missing, state.total)
    return results
