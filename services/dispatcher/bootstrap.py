"""The dispatcher's composition root: every port given to `bootstrap`, the real ones by `build`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable

from trainvite.dispatcher.v1 import dispatcher_pb2, dispatcher_pb2_grpc

from services.common.clock import Clock, utc_now
from services.common.grpc_client import create_channel
from services.common.grpc_server import GrpcServer
from services.common.messaging.batch_consumer import batch_consumer_task
from services.common.outages import log_failure
from services.common.runtime import (
    Infrastructure,
    ServiceParts,
    consumer_task,
    outbox_relay_task,
)
from services.common.service_token import ServiceToken
from services.dispatcher.adapters.calendar import GoogleCalendar
from services.dispatcher.adapters.catalog_client import CatalogSessions
from services.dispatcher.adapters.events import event_registry
from services.dispatcher.adapters.gmail import GmailBounces, GmailHistory, GmailSender
from services.dispatcher.adapters.inviters import PostgresInviters
from services.dispatcher.adapters.mime import build_message
from services.dispatcher.adapters.quota import MailboxQuota, NoQuota, PostgresBudgets
from services.dispatcher.adapters.senders import LocalOutboxSender
from services.dispatcher.adapters.smtp import SmtpSender
from services.dispatcher.adapters.unit_of_work import PostgresDispatcherUnitOfWork
from services.dispatcher.api.servicer import DispatcherServicer
from services.dispatcher.api.subscriptions import subscriptions
from services.dispatcher.api.tracking_subscriptions import tracking_subscriptions
from services.dispatcher.domain.quota import QuotaPolicy
from services.dispatcher.service_layer import bounces as bounce_reports
from services.dispatcher.service_layer import sending
from services.dispatcher.service_layer.dependencies import CalendarSync, Dependencies, Limits
from services.dispatcher.service_layer.ports import (
    BounceSource,
    MailboxHistory,
    MailSender,
    MessageBuilder,
    Quota,
)
from services.dispatcher.service_layer.unit_of_work import DispatcherUnitOfWork
from services.dispatcher.settings import DispatcherSettings

_DEFAULT_LIMITS = Limits()

SERVICE_NAME = "dispatcher"
SCHEMA = "dispatcher"

_log = logging.getLogger(__name__)


def bootstrap(
    uow: Callable[[], DispatcherUnitOfWork],
    sender: MailSender,
    build_message: MessageBuilder,
    quota: Quota,
    unsubscribe_key: str,
    clock: Clock = utc_now,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    limits: Limits = _DEFAULT_LIMITS,
    quota_key: Callable[[str], str] = str,
    bounces: BounceSource | None = None,
    history: MailboxHistory | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    calendar_sync: CalendarSync | None = None,
) -> Dependencies:
    return Dependencies(
        uow=uow,
        sender=sender,
        build_message=build_message,
        quota=quota,
        unsubscribe_key=unsubscribe_key,
        clock=clock,
        new_id=new_id,
        limits=limits,
        quota_key=quota_key,
        bounces=bounces,
        history=history,
        sleep=sleep,
        calendar_sync=calendar_sync,
    )


def _calendar_sync(
    settings: DispatcherSettings, infra: Infrastructure
) -> tuple[CalendarSync | None, Callable[[], Awaitable[None]] | None]:
    """Calendar sync as configured, and what closes it; (None, None) when it is off."""
    if not settings.calendar_enabled:
        _log.info("calendar sync is off: registrations are not put into the CSMs' calendars")
        return None, None
    service_account_file, token_file = settings.calendar_credentials()
    if service_account_file is None and token_file is None:
        raise ValueError(
            "CALENDAR_ENABLED needs a service account or token file (CALENDAR_* or GMAIL_*)"
        )
    channel = create_channel(
        settings.catalog_address,
        ServiceToken(settings.signing_key(), SERVICE_NAME),
        settings.catalog_deadline_seconds,
    )
    sync = CalendarSync(
        calendar=GoogleCalendar(
            service_account_file=service_account_file,
            token_file=None if service_account_file else token_file,
            api_endpoint=settings.calendar_api_endpoint,
            timeout_seconds=settings.calendar_timeout_seconds,
        ),
        sessions=CatalogSessions(channel),
        inviters=PostgresInviters(infra.pool),
    )
    _log.info("calendar sync is on", extra={"catalog": settings.catalog_address})
    return sync, channel.close


async def build(infra: Infrastructure) -> ServiceParts:
    """Servicer, outbox relay, approved-invitation consumer and send worker of the dispatcher."""
    settings = infra.settings
    assert isinstance(settings, DispatcherSettings)
    sender: MailSender
    quota: Quota
    bounces: GmailBounces | None = None
    history: MailboxHistory | None = None
    if settings.sender_kind() == "gmail":
        gmail = GmailSender(
            service_account_file=settings.gmail_service_account_file,
            token_file=settings.gmail_token_file,
            api_endpoint=settings.gmail_api_endpoint,
            timeout_seconds=settings.gmail_timeout_seconds,
        )
        sender, bounces, history = gmail, GmailBounces(gmail), GmailHistory(gmail)
        quota = MailboxQuota(
            PostgresBudgets(infra.pool),
            QuotaPolicy(
                units_per_window=settings.gmail_quota_units_per_minute,
                window=dt.timedelta(seconds=settings.gmail_quota_window_seconds),
                first_pause=dt.timedelta(seconds=settings.rate_limit_pause_seconds),
                longest_default_pause=dt.timedelta(
                    seconds=settings.rate_limit_longest_pause_seconds
                ),
            ),
        )
    elif settings.sender_kind() == "smtp":
        if not settings.smtp_host:
            raise ValueError("MAIL_SENDER=smtp needs SMTP_HOST")
        sender = SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            settings.smtp_starttls,
        )
        quota = NoQuota()
    else:
        sender = LocalOutboxSender(settings.outbox_dir)
        quota = NoQuota()
    registry = event_registry(infra.topology, utc_now)
    calendar_sync, close_calendar_sync = _calendar_sync(settings, infra)
    deps = bootstrap(
        uow=lambda: PostgresDispatcherUnitOfWork(infra.pool, registry),
        sender=sender,
        build_message=functools.partial(
            build_message,
            unsubscribe_base_url=settings.unsubscribe_base_url,
            unsubscribe_key=settings.signing_key(),
        ),
        quota=quota,
        unsubscribe_key=settings.signing_key(),
        clock=utc_now,
        limits=Limits(
            send_cost=settings.gmail_send_cost,
            lookup_cost=settings.gmail_lookup_cost,
            position_cost=settings.gmail_position_cost,
            history_cost=settings.gmail_history_cost,
            message_cost=settings.gmail_message_cost,
            daily_cap=settings.daily_send_cap,
            settle=dt.timedelta(seconds=settings.unknown_outcome_settle_seconds),
            lease=dt.timedelta(seconds=settings.claim_lease_seconds),
            frequency_cap_days=settings.frequency_cap_days,
        ),
        quota_key=(lambda _: "token-file mailbox") if settings.gmail_token_file else str,
        bounces=bounces,
        history=history,
        calendar_sync=calendar_sync,
    )
    servicer = DispatcherServicer(deps)

    def register(server: GrpcServer) -> None:
        server.add_service(
            dispatcher_pb2.DESCRIPTOR.services_by_name["DispatcherService"].full_name,
            lambda s: dispatcher_pb2_grpc.add_DispatcherServiceServicer_to_server(servicer, s),
        )

    async def send_worker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await sending.send_due(deps, settings.send_batch_size)
            except Exception as exc:
                log_failure(_log, "send worker failed, will retry", exc)
                claimed = 0
            if claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.send_poll_seconds)

    async def bounce_reader(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await bounce_reports.process_bounces(deps)
            except Exception as exc:
                log_failure(_log, "reading bounces failed, will retry", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.bounce_poll_seconds)

    return ServiceParts(
        register=register,
        background=[
            outbox_relay_task(infra, SCHEMA),
            *(
                consumer_task(infra, spec, handler)
                for spec, handler in subscriptions(deps, infra.topology)
            ),
            *(
                batch_consumer_task(infra.js, infra.topology, spec, handler)
                for spec, handler in tracking_subscriptions(deps, infra.topology)
            ),
            *[send_worker] * settings.send_workers,
            *([bounce_reader] if bounces is not None else []),
        ],
        close=close_calendar_sync,
    )
