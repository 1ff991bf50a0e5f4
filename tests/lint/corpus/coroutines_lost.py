"""LB306-LB310: coroutines lost in containers, sync sinks, helpers, callbacks; tasks dropped."""
import asyncio
import concurrent.futures
import atexit
import json
import signal
import threading


async def ping(url: str) -> bool:
    return True


async def shutdown() -> None:
    return None


def make_ping(url):
    return ping(url)


def make_plain(url):
    return len(url)


async def stored_never_gathered(urls):
    pending = []
    for url in urls:
        pending.append(ping(url))
    by_url = {}
    for url in urls:
        by_url[url] = ping(url)
    batch = [ping(u) for u in urls]
    lazy = (ping(u) for u in urls)
    literal = [ping(urls[0]), ping(urls[1])]
    if pending and batch and literal:
        print(len(by_url), lazy)
    return None


async def stored_and_gathered(urls):
    pending = []
    for url in urls:
        pending.append(ping(url))
    await asyncio.gather(*pending)
    by_url = {}
    for url in urls:
        by_url[url] = ping(url)
    await asyncio.gather(*by_url.values())
    batch = [ping(u) for u in urls]
    for coro in batch:
        await coro
    saved = [ping(u) for u in urls]
    return saved


async def into_sync_sinks(url, pool: concurrent.futures.ThreadPoolExecutor):
    text = json.dumps(ping(url))
    record = dict(state=ping(url))
    flag = bool(ping(url))
    moved = await asyncio.to_thread(ping(url))
    pool.submit(ping(url))
    worker = threading.Thread(target=ping(url))
    return text, record, flag, moved, worker


async def into_async_consumers(url, loop):
    await asyncio.wait_for(ping(url), 3)
    results = await asyncio.gather(ping(url))
    future = asyncio.run_coroutine_threadsafe(ping(url), loop)
    return results, future


async def helper_result_dropped(url):
    make_ping(url)
    unused = make_ping(url)
    await make_ping(url)
    kept = make_ping(url)
    await kept
    make_plain(url)
    return None


def sync_helper_result_dropped(url):
    make_ping(url)
    return make_ping(url)


async def callbacks(loop):
    signal.signal(signal.SIGTERM, lambda *_: shutdown())
    loop.add_signal_handler(signal.SIGINT, lambda: shutdown())
    loop.call_soon(lambda: shutdown())
    atexit.register(lambda: shutdown())

    def on_signal(*_):
        shutdown()

    signal.signal(signal.SIGHUP, on_signal)
    return None


async def or_right_side(cached, url):
    cached or ping(url)
    value = cached or await ping(url)
    return value


_BACKGROUND: set[asyncio.Task[None]] = set()


async def tasks_dropped(url):
    asyncio.create_task(shutdown())
    asyncio.ensure_future(shutdown())
    loop = asyncio.get_running_loop()
    loop.create_task(shutdown())
    forgotten = asyncio.create_task(shutdown())
    return None


async def tasks_kept(url):
    task = asyncio.create_task(shutdown())
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    other = asyncio.ensure_future(shutdown())
    await other
    async with asyncio.TaskGroup() as group:
        group.create_task(shutdown())
    return task


async def handed_on_not_lost(url, pool: concurrent.futures.ThreadPoolExecutor, ready):
    future = pool.submit(asyncio.run, ping(url))
    worker = threading.Thread(target=asyncio.run, args=(ping(url),))
    chosen = ready if asyncio.iscoroutine(ready) else ping(url)
    await chosen
    fallback = ready or ping(url)
    await fallback
    return future, worker


async def chosen_and_dropped(url, ready):
    chosen = ready if ready else ping(url)
    return None


async def awaited_in_one_branch(url, fresh, verbose):
    pending = ping(url)
    if fresh:
        await pending
    check = ping(url)
    if verbose:
        print("checking")
        await check
    else:
        await check
    nested = ping(url)
    if fresh:
        if verbose:
            await nested
        else:
            await nested
    else:
        await nested
    guarded = ping(url)
    try:
        print(url)
    except ValueError:
        await guarded
    retried = ping(url)
    for _ in range(3):
        await retried
        break
    late = ping(url)
    if fresh:
        print("fresh")
    await late
    return None
