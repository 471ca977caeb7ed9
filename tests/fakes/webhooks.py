"""A stand-in for JetStream behind the edge's webhook endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.edge.service_layer.ports import ServiceUnavailable, WebinarActivity


@dataclass
class FakeActivityPublisher:
    """Keeps what was published; `away` stands for NATS not acknowledging."""

    published: list[WebinarActivity] = field(default_factory=list)
    away: bool = False

    async def publish(self, activity: WebinarActivity) -> None:
        if self.away:
            raise ServiceUnavailable("NATS: no acknowledgement in time")
        self.published.append(activity)
