"""The edge's composition root: its pages wired to the catalog and the dispatcher."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware

from services.common.auth import CallerKind
from services.common.clock import Clock, utc_now
from services.common.grpc_client import create_channel
from services.common.messaging.topology import Topology
from services.common.registration_links import LinkKeys
from services.common.service_token import ServiceToken
from services.edge.adapters.activity_publisher import JetStreamActivityPublisher
from services.edge.adapters.clients import CatalogClient, DispatcherClient
from services.edge.adapters.nats_link import nats_for_webhooks
from services.edge.api import zoom
from services.edge.api.routes import EXCEPTION_HANDLERS, SecurityHeaders, routes
from services.edge.service_layer.links import Dependencies
from services.edge.service_layer.ports import Catalog, Unsubscriber
from services.edge.service_layer.zoom import Webhooks
from services.edge.settings import EdgeSettings

SERVICE_NAME = "edge"
_log = logging.getLogger(__name__)


def bootstrap(
    catalog: Catalog, unsubscriber: Unsubscriber, link_keys: LinkKeys, clock: Clock = utc_now
) -> Dependencies:
    """The pages' dependencies from every port: the real clients here, fakes in unit tests."""
    return Dependencies(
        catalog=catalog, unsubscriber=unsubscriber, link_keys=link_keys, clock=clock
    )


def web_app(
    deps: Dependencies | None = None,
    lifespan: contextlib.AbstractAsyncContextManager[None] | None = None,
    webhooks: Webhooks | None = None,
) -> Starlette:
    """The ASGI app over `deps` (and `webhooks`), or over what `lifespan` puts in
    `app.state.deps` (and `app.state.webhooks`) at start."""
    app: Starlette

    @contextlib.asynccontextmanager
    async def life(_: Starlette) -> AsyncIterator[None]:
        if lifespan is None:
            yield
            return
        async with lifespan:
            yield

    app = Starlette(
        routes=[*routes(), *zoom.routes()],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        middleware=[Middleware(SecurityHeaders)],
        lifespan=life,
    )
    if deps is not None:
        app.state.deps = deps
    app.state.webhooks = webhooks
    return app


def build(settings: EdgeSettings) -> Starlette:
    """The edge as it runs: gRPC channels opened when the server starts, closed when it stops.

    The catalog is called as a service (registering is what the edge's service token may do);
    the dispatcher as the gateway kind, which may only carry an invitee's one-click token.
    With a Zoom secret token, NATS is connected and the streams declared at start, as the
    services do, for the webhooks' events; NATS away does not keep the pages from serving
    (see `adapters/nats_link.py`).
    """
    key = settings.signing_key()
    link_keys = settings.link_keys()
    app: Starlette

    @contextlib.asynccontextmanager
    async def channels() -> AsyncIterator[None]:
        catalog = create_channel(
            settings.catalog_address,
            ServiceToken(key, SERVICE_NAME),
            settings.call_deadline_seconds,
        )
        dispatcher = create_channel(
            settings.dispatcher_address,
            ServiceToken(key, SERVICE_NAME, CallerKind.GATEWAY),
            settings.call_deadline_seconds,
        )
        app.state.deps = bootstrap(CatalogClient(catalog), DispatcherClient(dispatcher), link_keys)
        secrets = settings.zoom_secrets()
        try:
            async with contextlib.AsyncExitStack() as stack:
                if secrets:
                    assert settings.nats_url is not None  # EdgeSettings requires it then
                    topology = Topology(settings.event_namespace)
                    publisher = JetStreamActivityPublisher(
                        topology, settings.publish_timeout_seconds
                    )
                    await stack.enter_async_context(
                        nats_for_webhooks(settings.nats_url, SERVICE_NAME, topology, publisher)
                    )
                    app.state.webhooks = Webhooks(
                        secrets,
                        publisher,
                        max_skew=dt.timedelta(seconds=settings.zoom_webhook_max_skew_seconds),
                    )
                yield
        finally:
            await catalog.close()
            await dispatcher.close()
            _log.info("stopped", extra={"service": SERVICE_NAME})

    app = web_app(lifespan=channels())
    return app
