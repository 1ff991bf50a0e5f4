"""Syntax newer than the interpreter: read through libcst, and still linted."""
import time

type Seconds[T] = float | T


def first[T](items: list[T]) -> T:
    return items[0]


class Box[T]:
    async def wait(self, delay: Seconds[int]) -> None:
        try:
            time.sleep(delay)
        except ValueError, TypeError:
            pass
        label = t"waited {delay!r} s"
        print(label)
