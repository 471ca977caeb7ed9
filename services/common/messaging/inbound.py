"""Incoming events: for each subject, one decoder and one use case.

A decoder turns the payload into what the use case takes, or raises PoisonMessage saying why it
never can (see `decoding`); the consumer dead-letters such a message with that reason. The use
case applies the event once: it asks its unit of work `first_time(event_id)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg

from services.common.messaging.consumer import MessageHandler, PoisonMessage

T = TypeVar("T")


@dataclass(frozen=True)
class Route(Generic[T]):
    decode: Callable[[bytes], T]
    handle: Callable[[T], Awaitable[object]]


def by_subject(routes: Mapping[str, Route[Any]]) -> MessageHandler:
    """A consumer's handler: decode each message by its subject's decoder, then apply it."""

    async def on_message(msg: Msg) -> None:
        route = routes.get(msg.subject)
        if route is None:
            raise PoisonMessage(f"this consumer takes nothing published on {msg.subject}")
        await route.handle(route.decode(msg.data))

    return on_message
