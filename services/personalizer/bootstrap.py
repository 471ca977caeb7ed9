"""The personalizer's composition root: real adapters wired to the runtime's resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from trainvite.personalizer.v1 import personalizer_pb2, personalizer_pb2_grpc

from services.common.clock import Clock, utc_now
from services.common.grpc_client import create_channel
from services.common.grpc_server import GrpcServer
from services.common.outages import log_failure
from services.common.runtime import (
    Infrastructure,
    ServiceParts,
    consumer_task,
    outbox_relay_task,
)
from services.common.service_token import ServiceToken
from services.personalizer.adapters.catalog_client import CatalogClient
from services.personalizer.adapters.events import event_registry
from services.personalizer.adapters.rendering import InvitationRenderer
from services.personalizer.adapters.template_sandbox import SandboxLimits, TemplateSandbox
from services.personalizer.adapters.unit_of_work import PostgresPersonalizerUnitOfWork
from services.personalizer.api.servicer import PersonalizerServicer
from services.personalizer.api.subscriptions import subscriptions
from services.personalizer.domain.learning import LearningPolicy
from services.personalizer.service_layer import gaps
from services.personalizer.service_layer.dependencies import Dependencies, Policy
from services.personalizer.service_layer.ports import Renderer, SessionSource
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork
from services.personalizer.settings import PersonalizerSettings

SERVICE_NAME = "personalizer"
SCHEMA = "personalizer"

_log = logging.getLogger(__name__)


def bootstrap(
    uow: Callable[[], PersonalizerUnitOfWork],
    catalog: SessionSource,
    renderer: Renderer,
    clock: Clock = utc_now,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    policy: Policy | None = None,
) -> Dependencies:
    """The use cases' dependencies from every port: the real adapters here, fakes in the unit
    tests."""
    return Dependencies(
        uow=uow,
        catalog=catalog,
        renderer=renderer,
        clock=clock,
        new_id=new_id,
        policy=policy or Policy(),
    )


async def build(infra: Infrastructure) -> ServiceParts:
    """Servicer, outbox relay, consumers and benchmark refresher of the personalizer."""
    settings = infra.settings
    assert isinstance(settings, PersonalizerSettings)
    channel = create_channel(
        settings.catalog_address,
        ServiceToken(settings.signing_key(), SERVICE_NAME),
        settings.catalog_deadline_seconds,
    )
    sandbox = TemplateSandbox(
        SandboxLimits(
            timeout_seconds=settings.template_timeout_seconds,
            max_output_bytes=settings.template_max_output_bytes,
            memory_bytes=settings.template_memory_bytes,
            max_range=settings.template_max_range,
            max_loop_steps=settings.template_max_loop_steps,
        ),
        workers=settings.template_workers,
    )
    await sandbox.start()
    registry = event_registry(infra.topology, utc_now)
    deps = bootstrap(
        uow=lambda: PostgresPersonalizerUnitOfWork(infra.pool, registry),
        catalog=CatalogClient(channel),
        renderer=InvitationRenderer(
            sandbox=sandbox,
            max_html_bytes=settings.max_html_body_bytes,
            links=settings.registration_links(),
        ),
        clock=utc_now,
        policy=Policy(
            benchmark_windows=tuple(settings.benchmark_windows),
            frequency_cap_days=settings.frequency_cap_days,
            training_counts_days=settings.training_counts_days,
            learning=LearningPolicy(
                enabled=settings.angle_learning, exploration=settings.angle_exploration
            ),
        ),
    )
    # Gap analysis reads precomputed benchmarks: have them before the first request.
    if await gaps.benchmarks_missing(deps):
        await gaps.refresh_benchmarks(deps)
    servicer = PersonalizerServicer(deps)

    def register(server: GrpcServer) -> None:
        server.add_service(
            personalizer_pb2.DESCRIPTOR.services_by_name["PersonalizerService"].full_name,
            lambda s: personalizer_pb2_grpc.add_PersonalizerServiceServicer_to_server(servicer, s),
        )

    async def benchmark_refresher(stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.benchmark_refresh_seconds)
            if not stop.is_set():
                try:
                    await gaps.refresh_benchmarks(deps)
                except Exception as exc:
                    log_failure(_log, "benchmark refresh failed, will retry", exc)

    async def close() -> None:
        await channel.close()
        await sandbox.close()

    return ServiceParts(
        register=register,
        background=[
            outbox_relay_task(infra, SCHEMA),
            *(
                consumer_task(infra, spec, handler)
                for spec, handler in subscriptions(deps, infra.topology)
            ),
            benchmark_refresher,
        ],
        close=close,
    )
