"""POST /webhooks/zoom: Zoom's webinar webhooks in, answered as Zoom expects.

200 once JetStream has stored the activity (or for an event we do not take, or with the URL
validation answer); 401 for a request not signed with our token or too old; 400 naming what a
signed body lacks; 503 while NATS does not acknowledge (Zoom delivers again); 404 when no secret
token is configured: this edge takes no Zoom webhooks, and an unsigned one is never accepted.
Nothing is recorded for a refused request.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from services.edge.service_layer import zoom
from services.edge.service_layer.ports import ServiceUnavailable
from services.edge.service_layer.zoom import BadWebhook, Unsigned, Webhooks

_log = logging.getLogger(__name__)

# Zoom sends small JSON documents; a body far larger is not Zoom's.
MAX_BODY_BYTES = 256 * 1024


def _hooks(request: Request) -> Webhooks | None:
    hooks: Webhooks | None = getattr(request.app.state, "webhooks", None)
    return hooks if hooks is not None and hooks.secrets else None


async def receive(request: Request) -> Response:
    hooks = _hooks(request)
    if hooks is None:
        return PlainTextResponse("Zoom webhooks are not configured on this server", 404)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return PlainTextResponse("body too large", 413)
    try:
        answer = await zoom.receive(
            hooks,
            request.headers.get("x-zm-request-timestamp", ""),
            request.headers.get("x-zm-signature", ""),
            body,
        )
    except Unsigned as exc:
        _log.warning("zoom webhook refused", extra={"status": 401, "reason": str(exc)})
        return PlainTextResponse("not signed by Zoom with our secret token", 401)
    except BadWebhook as exc:
        _log.warning("zoom webhook refused", extra={"status": 400, "reason": str(exc)})
        return PlainTextResponse(str(exc), 400)
    except ServiceUnavailable as exc:
        _log.warning("zoom webhook not stored: NATS is away", extra={"error": str(exc)})
        return PlainTextResponse("try again later", 503, headers={"retry-after": "30"})
    if answer.body is not None:
        return JSONResponse(answer.body)
    return PlainTextResponse("ok")


def routes() -> list[Route]:
    return [Route("/webhooks/zoom", receive, methods=["POST"])]
