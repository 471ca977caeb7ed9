"""The one way tests wait for something that happens in the background.

A wait that runs out fails the test, naming what it waited for and what it saw last: a loop that
gives up quietly lets the assertion after it pass or fail for a reason nobody can read.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")

_NOTHING = object()


class NotYet:
    """A probe's answer meaning "not yet", carrying what it saw, to be shown if time runs out."""

    def __init__(self, seen: object) -> None:
        self.seen = seen

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"NotYet({self.seen!r})"


@overload
async def wait_for(
    probe: Callable[[], Awaitable[T | NotYet]],
    description: str,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline with a report, not a cancellation
    interval: float = 0.05,
    retry_on: tuple[type[Exception], ...] = (Exception,),
) -> T: ...


@overload
async def wait_for(
    probe: Callable[[], T | NotYet],
    description: str,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline with a report, not a cancellation
    interval: float = 0.05,
    retry_on: tuple[type[Exception], ...] = (Exception,),
) -> T: ...


async def wait_for(
    probe: Callable[[], object],
    description: str,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline with a report, not a cancellation
    interval: float = 0.05,
    retry_on: tuple[type[Exception], ...] = (Exception,),
) -> object:
    """Call `probe` every `interval` seconds until it returns a truthy value, and return that.

    A falsy value means "not yet"; `NotYet(what was seen)` says so with something worth showing.

    `probe` may be a coroutine function or a plain one. An exception of `retry_on` it raises
    counts as "not yet" (a server still starting refuses connections) and is shown if time runs
    out; any other goes through at once (a service that died will not come back). After
    `timeout` seconds, one last call decides, then AssertionError names `description`, the last
    value and the last exception.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: object = _NOTHING
    error: BaseException | None = None
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except retry_on as e:
            error = e
        else:
            if value:
                return value
            last, error = value, None
        if loop.time() >= deadline:
            seen = "none (the probe always raised)" if last is _NOTHING else _shown(last)
            message = f"not within {timeout:g} s: {description}; last value: {seen}"
            if error is not None:
                message += f"; last error: {error!r}"
            raise AssertionError(message) from error
        await asyncio.sleep(interval)


def _shown(value: object, limit: int = 2000) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
