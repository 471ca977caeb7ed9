"""The edge's HTTP entry points: a signed token in, a use case, a server-rendered page out.

Only POST changes anything: mail scanners and link previews GET every link in a message, so a
GET shows and asks, never registers nor unsubscribes. Every refusal is a page in plain words with
the status that fits it, and nothing is recorded for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.registration_links import ExpiredLink, ForgedLink, MalformedLink
from services.edge.adapters.calendar import session_calendar
from services.edge.service_layer import links
from services.edge.service_layer.links import Dependencies, LinkPage, SessionClosed
from services.edge.service_layer.ports import ServiceUnavailable

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
_log = logging.getLogger(__name__)

_env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Tokens travel in the URL: no page may hand its address to another site, and none is cached.
SECURITY_HEADERS: Mapping[bytes, bytes] = {
    b"referrer-policy": b"no-referrer",
    b"cache-control": b"no-store",
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"content-security-policy": (
        b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'"
    ),
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS.items() if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self._app(scope, receive, with_headers)


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(context), status_code=status_code)


def problem(status_code: int, heading: str, text: str) -> HTMLResponse:
    return page("problem.html", status_code, heading=heading, text=text)


def _deps(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.deps
    return deps


def _base(request: Request, token: str) -> str:
    return f"{request.scope.get('root_path', '')}/r/{token}"


def _link_page(request: Request, token: str, shown: LinkPage) -> HTMLResponse:
    return page(
        "session.html",
        session=shown.session,
        registration=shown.registration,
        when=shown.when,
        claims=shown.claims,
        base=_base(request, token),
    )


async def show_link(request: Request) -> Response:
    token = request.path_params["token"]
    return _link_page(request, token, await links.open_link(_deps(request), token))


async def register(request: Request) -> Response:
    token = request.path_params["token"]
    return _link_page(request, token, await links.register(_deps(request), token))


async def cancel(request: Request) -> Response:
    token = request.path_params["token"]
    return _link_page(request, token, await links.cancel(_deps(request), token))


async def calendar(request: Request) -> Response:
    token = request.path_params["token"]
    deps = _deps(request)
    claims, session = await links.calendar_session(deps, token)
    page_url = str(request.url_for("link", token=token))
    body = session_calendar(session, claims.email, page_url, deps.clock())
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="training-session.ics"'},
    )


def _unsubscribe_token(request: Request) -> str:
    token = request.query_params.get("token", "")
    if not token:
        raise InvalidArgument.single("token", "missing")
    return token


async def unsubscribe_page(request: Request) -> Response:
    """A confirm button, never the unsubscribe itself (see the module's text)."""
    token = _unsubscribe_token(request)
    action = f"{request.scope.get('root_path', '')}/unsubscribe?{request.url.query}"
    return page("unsubscribe.html", email="", action=action, token=token)


async def unsubscribe(request: Request) -> Response:
    """RFC 8058 one-click: the mail client POSTs "List-Unsubscribe=One-Click" to the link; the
    confirm button posts the same. The signed token is the authority, so the body is not read."""
    email = await links.unsubscribe(_deps(request), _unsubscribe_token(request))
    return page("unsubscribe.html", email=email, action="")


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/r/{token}", show_link, methods=["GET"], name="link"),
        Route("/r/{token}/register", register, methods=["POST"]),
        Route("/r/{token}/cancel", cancel, methods=["POST"]),
        Route("/r/{token}/calendar.ics", calendar, methods=["GET"]),
        Route("/unsubscribe", unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe", unsubscribe, methods=["POST"]),
    ]


_CLOSED = {
    "cancelled": (
        "This session was cancelled",
        "It will not take place, so there is nothing to register for.",
    ),
    "started": ("This session has already started", "Registration closed when it began."),
    "over": ("This session is over", "Registration closed when it began."),
}


def _closed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SessionClosed)
    heading, text = _CLOSED[exc.why]
    if exc.why == "cancelled" and exc.session.cancel_reason:
        text = f"{text} The reason given: {exc.session.cancel_reason}"
    return problem(410, f"{heading}: {exc.session.title}", text)


def _unavailable(request: Request, exc: Exception) -> Response:
    _log.warning("a service behind the edge is away", extra={"error": str(exc)})
    response = problem(
        503,
        "We can't reach our servers right now",
        "Nothing was changed. Please try again in a minute.",
    )
    response.headers["retry-after"] = "30"
    return response


def _invalid(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/unsubscribe"):
        return problem(
            400,
            "This unsubscribe link isn't valid",
            "It may have been cut short. Open it again from the email, or reply to the email "
            "and ask to be taken off the list.",
        )
    return problem(400, "This request isn't valid", "Open the link again from the email.")


def _refused(status: int, heading: str, text: str) -> Callable[[Request, Exception], Response]:
    def handler(request: Request, exc: Exception) -> Response:
        _log.info("link refused", extra={"status": status, "reason": str(exc)})
        return problem(status, heading, text)

    return handler


def _not_registered(request: Request, exc: Exception) -> Response:
    return problem(409, "We couldn't do that", f"{exc} Nothing was changed.")


Handler = Callable[[Request, Exception], Response | Awaitable[Response]]

EXCEPTION_HANDLERS: Mapping[Any, Handler] = {
    MalformedLink: _refused(
        400,
        "This link is incomplete",
        "It looks cut short or mistyped. Open it again from the email, or copy the whole link.",
    ),
    ForgedLink: _refused(
        403,
        "This link isn't valid",
        "It wasn't made by us, or it was changed. Open the link from your invitation email.",
    ),
    ExpiredLink: _refused(
        410,
        "This link has expired",
        "Registration links stop working a while after their session. Ask your contact for a "
        "new invitation.",
    ),
    NotFound: _refused(
        404, "We can't find this session", "It may have been removed from the catalog."
    ),
    SessionClosed: _closed,
    FailedPrecondition: _not_registered,
    InvalidArgument: _invalid,
    ServiceUnavailable: _unavailable,
}
