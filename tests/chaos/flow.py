"""A steady flow through the three services, as the gateway and the webinar tools make it, and
what it observed: every answer's status code, what was acknowledged, and the health reports.

The flow drafts a batch for one customer after another, edits a draft, approves the batch and
reads as a CSM would; it publishes attendance events to JetStream for people who were invited.
A call that fails is retried (DraftInvitations with the same request id, approval is idempotent)
until it succeeds, so that "acknowledged" means what a caller was told.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
import nats
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from trainvite.catalog.v1 import catalog_pb2 as cpb
from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2 as dpb
from trainvite.events.v1 import events_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.messaging.topology import Topology
from tests.e2e.processes import SERVICE_NAMES
from tests.helpers import Clients, clients

T = TypeVar("T")

# A restarted service is dialled again within a second, not after gRPC's default backoff.
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
CALL_DEADLINE_SECONDS = 15.0
# How long one acknowledged step (a draft, an approval, a publish) may keep failing.
GIVE_UP_SECONDS = 90.0


def chaos_clients(ports: dict[str, int], key: str) -> Clients:
    """The services' stubs on channels that redial quickly after a restart."""
    endpoints = {name: f"127.0.0.1:{ports[name]}" for name in SERVICE_NAMES}
    return clients(endpoints, key, channel_options=_CHANNEL_OPTIONS)


@dataclass
class HealthSample:
    at: float
    service: str
    # SERVING, NOT_SERVING, or the status code of a failed check (UNAVAILABLE when down).
    status: str


@dataclass
class Observations:
    # (rpc, status code name) -> calls; OK included.
    calls: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    # Batch name -> the recipients of the drafts its approval answered as approved.
    approved: dict[str, set[str]] = field(default_factory=dict)
    # Attendance event ids JetStream acknowledged.
    published: set[str] = field(default_factory=set)
    publish_failures: int = 0
    health: list[HealthSample] = field(default_factory=list)
    # Steps that kept failing past GIVE_UP_SECONDS: never acknowledged.
    gave_up: list[str] = field(default_factory=list)

    def codes(self, exclude: tuple[str, ...] = ("OK",)) -> collections.Counter[str]:
        """Calls per status code over every RPC."""
        totals: collections.Counter[str] = collections.Counter()
        for (_, code), n in self.calls.items():
            if code not in exclude:
                totals[code] += n
        return totals

    def rpcs_answering(self, code: str) -> dict[str, int]:
        return {rpc: n for (rpc, c), n in sorted(self.calls.items()) if c == code}

    def statuses_between(self, service: str, start: float, end: float) -> set[str]:
        return {s.status for s in self.health if s.service == service and start <= s.at <= end}

    @property
    def approved_recipients(self) -> set[str]:
        return set().union(*self.approved.values()) if self.approved else set()


class Flow:
    """Drafting, approving, reading and attendance events, until `stop` is set."""

    def __init__(
        self,
        clients: Clients,
        nats_url: str,
        topology: Topology,
        customers: list[str],
        pace_seconds: float,
        rng: random.Random,
    ) -> None:
        self.c = clients
        self.nats_url = nats_url
        self.topology = topology
        self.customers = customers
        self.pace_seconds = pace_seconds
        self.rng = rng
        self.seen = Observations()
        self.stop = asyncio.Event()
        self.drafting_done = asyncio.Event()
        self._session_name = ""

    async def _call(self, rpc: str, make: Callable[[], Awaitable[T]]) -> T:
        """One call; its status code is counted whatever it is."""
        try:
            result = await make()
        except grpc.aio.AioRpcError as exc:
            self.seen.calls[(rpc, exc.code().name)] += 1
            raise
        self.seen.calls[(rpc, "OK")] += 1
        return result

    async def _until_acknowledged(self, what: str, rpc: str, make: Callable[[], Awaitable[T]]) -> T:
        """Retry a call that must eventually succeed, as the gateway does for its user."""
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while True:
            try:
                return await self._call(rpc, make)
            except grpc.aio.AioRpcError:
                if time.monotonic() > deadline:
                    self.seen.gave_up.append(what)
                    raise
                await asyncio.sleep(0.5)

    async def draft_and_approve(self, customer: str) -> None:
        p, meta, t = self.c.personalizer, self.c.csm, CALL_DEADLINE_SECONDS
        request_id = f"chaos-{customer}"
        batch = await self._until_acknowledged(
            f"draft {customer}",
            "DraftInvitations",
            lambda: p.DraftInvitations(
                pb.DraftInvitationsRequest(
                    parent=f"customers/{customer}",
                    topic="Advanced Analytics",
                    request_id=request_id,
                    view=pb.INVITATION_BATCH_VIEW_BASIC,
                ),
                metadata=meta,
                timeout=t,
            ),
        )
        if batch.drafts:
            first = batch.drafts[0]
            edit = pb.InvitationDraft(
                name=first.name,
                content=common_pb2.InvitationContent(subject=f"{first.content.subject} (edited)"),
            )
            await self._until_acknowledged(
                f"edit {first.name}",
                "UpdateInvitationDraft",
                lambda: p.UpdateInvitationDraft(
                    pb.UpdateInvitationDraftRequest(
                        draft=edit, update_mask=FieldMask(paths=["content.subject"])
                    ),
                    metadata=meta,
                    timeout=t,
                ),
            )
        approved = await self._until_acknowledged(
            f"approve {batch.name}",
            "ApproveInvitationBatch",
            lambda: p.ApproveInvitationBatch(
                pb.ApproveInvitationBatchRequest(name=batch.name), metadata=meta, timeout=t
            ),
        )
        self._session_name = approved.training_session.name
        self.seen.approved[approved.name] = {
            d.recipient.email for d in approved.drafts if d.state == pb.DRAFT_STATE_APPROVED
        }

    async def drafter(self) -> None:
        """One customer's batch after another, at a steady pace, until stopped or all done."""
        try:
            for customer in self.customers:
                if self.stop.is_set():
                    break
                started = time.monotonic()
                # A batch that kept failing is counted in `gave_up`; the flow goes on.
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await self.draft_and_approve(customer)
                await asyncio.sleep(max(0.0, self.pace_seconds - (time.monotonic() - started)))
        finally:
            self.drafting_done.set()

    async def _read(
        self, rpc: str, method: Callable[..., Awaitable[object]], request: Message
    ) -> None:
        await self._call(
            rpc, lambda: method(request, metadata=self.c.csm, timeout=CALL_DEADLINE_SECONDS)
        )

    async def reader(self) -> None:
        """The gateway's reads, one at a time."""
        c = self.c
        while not self.stop.is_set():
            choice = self.rng.randrange(4)
            try:
                if choice == 0:
                    await self._read(
                        "SearchTrainingSessions",
                        c.catalog.SearchTrainingSessions,
                        cpb.SearchTrainingSessionsRequest(query="analytics dashboards"),
                    )
                elif choice == 1:
                    await self._read(
                        "GetTrainingGaps",
                        c.personalizer.GetTrainingGaps,
                        pb.GetTrainingGapsRequest(
                            name=f"customers/{self.rng.choice(self.customers)}/training-gaps"
                        ),
                    )
                elif choice == 2 and self.seen.approved:
                    await self._read(
                        "GetBatchDeliveryStatus",
                        c.dispatcher.GetBatchDeliveryStatus,
                        dpb.GetBatchDeliveryStatusRequest(
                            name=f"{self.rng.choice(list(self.seen.approved))}/delivery-status"
                        ),
                    )
                else:
                    await self._read(
                        "ListTrainingSessions",
                        c.catalog.ListTrainingSessions,
                        cpb.ListTrainingSessionsRequest(page_size=10),
                    )
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.1)

    async def attendance(self, interval_seconds: float) -> None:
        """Registrations of invited people, each published until JetStream acknowledges it."""
        nc = await nats.connect(
            self.nats_url,
            name="chaos-attendance",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
        )
        js = nc.jetstream()
        try:
            while not self.stop.is_set():
                await asyncio.sleep(interval_seconds)
                recipients = sorted(self.seen.approved_recipients)
                if not recipients or not self._session_name:
                    continue
                event = events_pb2.AttendanceRecorded(
                    event_id=str(uuid.uuid4()),
                    training_session=self._session_name,
                    email=self.rng.choice(recipients),
                    kind=events_pb2.ATTENDANCE_KIND_REGISTERED,
                    source="registration-link",
                )
                event.occur_time.GetCurrentTime()
                deadline = time.monotonic() + GIVE_UP_SECONDS
                while True:
                    try:
                        await js.publish(
                            self.topology.attendance_recorded,
                            event.SerializeToString(),
                            timeout=2,
                            headers={"Nats-Msg-Id": event.event_id},
                        )
                        self.seen.published.add(event.event_id)
                        break
                    except Exception:  # any failure to publish: try again with the same id
                        self.seen.publish_failures += 1
                        if time.monotonic() > deadline:
                            self.seen.gave_up.append(f"publish {event.event_id}")
                            break
                        await asyncio.sleep(0.5)
        finally:
            await nc.close()

    async def health(self, interval_seconds: float = 0.25) -> None:
        """Every service's health, sampled until stopped."""
        stubs = {
            n: health_pb2_grpc.HealthStub(ch)
            for n, ch in zip(SERVICE_NAMES, self.c.channels, strict=True)
        }

        async def check(name: str) -> None:
            try:
                reply = await stubs[name].Check(health_pb2.HealthCheckRequest(), timeout=1)
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.aio.AioRpcError as exc:
                status = exc.code().name
            self.seen.health.append(HealthSample(time.monotonic(), name, status))

        while not self.stop.is_set():
            await asyncio.gather(*(check(n) for n in SERVICE_NAMES))
            await asyncio.sleep(interval_seconds)

    def latest_health(self, service: str) -> str:
        for sample in reversed(self.seen.health):
            if sample.service == service:
                return sample.status
        return "UNKNOWN"
