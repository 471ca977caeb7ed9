"""Drafts from the Jinja2 templates in services/personalizer/templates, plus the .ics invite.

One Environment is built at start: templates are compiled once and cached by Jinja2.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import hashlib
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import icalendar
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.common.errors import InvalidArgument
from services.common.registration_links import LinkKeys, RegistrationLinks
from services.personalizer.adapters import email_html
from services.personalizer.adapters.template_sandbox import TemplateSandbox
from services.personalizer.domain.logistics import local_logistics
from services.personalizer.domain.model import (
    Angle,
    ConfirmationKind,
    Content,
    Customer,
    Notice,
    Purpose,
    Recipient,
    SessionInfo,
)
from services.personalizer.domain.selection import Assessment

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
CALENDAR_DOMAIN = "trainvite.dev"
# Where links point when no edge is configured: a development machine's own edge.
DEFAULT_REGISTRATION_BASE_URL = "http://127.0.0.1:8080"
# An angle's own templates: what its template version is a digest of.
_ANGLE_TEMPLATES = ("subject.txt", "body.txt", "body.html")


def _one_line(text: str) -> str:
    """Subjects and names go into headers: one line, single spaces."""
    return re.sub(r"\s+", " ", text).strip()


def _plain(value: Any) -> Any:
    """Dataclasses and enums as JSON values, so a render context can be stored and reused."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


class InvitationRenderer:
    """Renders subject, text, HTML and calendar invitation for one assessed recipient.

    The angle templates are compiled once and recompiled only when their file changes, so a
    content team's edit is picked up without a restart. A CSM's own template text is rendered
    by the `sandbox`, in worker processes with bounded time, memory and output: it sees the
    draft's variables and nothing else, and cannot hold up the service.

    The "Register" link is the edge's page for a signed token naming the draft, the session and
    the person (`services/common/registration_links.py`), never the catalog's stored
    registration URL: the edge shows the session as it is when the link is opened, so the link
    stays right when the session moves. Without `links`, links are signed with a key of this
    renderer's own, which nothing else verifies.
    """

    def __init__(
        self,
        template_dir: Path = TEMPLATE_DIR,
        sandbox: TemplateSandbox | None = None,
        max_html_bytes: int = 200 * 1024,
        links: RegistrationLinks | None = None,
    ) -> None:
        self._links = links or RegistrationLinks(DEFAULT_REGISTRATION_BASE_URL, LinkKeys.random())
        self._own_templates = sandbox
        self._max_html_bytes = max_html_bytes
        self._env = Environment(
            loader=FileSystemLoader(template_dir),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
        )
        self._versions: dict[Angle, tuple[str, list[Callable[[], bool]]]] = {}

    def template_version(self, angle: Angle) -> str:
        """A short digest of the angle's templates as they are now: drafts rendered from the
        same files share it, so the funnel can tell one version's results from the next."""
        cached = self._versions.get(angle)
        if cached is not None and all(uptodate() for uptodate in cached[1]):
            return cached[0]
        digest = hashlib.sha256()
        checks: list[Callable[[], bool]] = []
        assert self._env.loader is not None
        for part in _ANGLE_TEMPLATES:
            source, _, uptodate = self._env.loader.get_source(self._env, f"{angle.value}/{part}")
            digest.update(source.encode())
            if uptodate is not None:
                checks.append(uptodate)
        version = digest.hexdigest()[:12]
        self._versions[angle] = (version, checks)
        return version

    def render(
        self,
        assessment: Assessment,
        customer: Customer,
        session: SessionInfo,
        invitation: str,
        now: dt.datetime,
        alternatives: tuple[SessionInfo, ...] = (),
    ) -> tuple[Content, str, dict[str, Any]]:
        """The content of the draft named `invitation`, the recipient's registration link and
        the render context."""
        person = assessment.stakeholder
        recipient = Recipient.of(person)
        link = self._links.link(
            invitation,
            session.name,
            recipient.email,
            person.time_zone,
            session.start_time + session.duration,
            now,
        )
        focus = next(a for a in assessment.adoption if a.feature == assessment.focus_feature)
        context: dict[str, Any] = _plain(
            {
                "recipient": {
                    "first_name": person.first_name,
                    "display_name": person.display_name,
                    "title": person.title,
                    "role": person.role,
                },
                "session": {
                    "title": session.title,
                    "presenter": session.presenter,
                    "join_url": session.join_url,
                },
                "when": local_logistics(session, person.time_zone),
                "focus_feature": customer.feature_name(assessment.focus_feature),
                "focus": focus,
                "talking_points": assessment.talking_points,
                "registration_url": link,
                "alternatives": [
                    {"title": a.title, "when": local_logistics(a, person.time_zone)}
                    for a in alternatives
                ],
                "csm": {
                    "name": customer.csm_name,
                    "email": customer.csm_email,
                    "signature": customer.csm_signature,
                },
            }
        )
        subject, text, html = self.render_angle(assessment.angle, context)
        ics = calendar_invitation(session, customer, recipient, link, now)
        return Content(subject, text, html, ics), link, context

    def render_angle(self, angle: Angle, context: dict[str, Any]) -> tuple[str, str, str]:
        """Subject, text and HTML from the angle's current templates."""
        subject = _one_line(self._env.get_template(f"{angle.value}/subject.txt").render(context))
        text = self._env.get_template(f"{angle.value}/body.txt").render(context).strip() + "\n"
        html = self._env.get_template(f"{angle.value}/body.html").render(context)
        return subject, text, html

    async def render_own(
        self, subject_template: str, body_template: str, context: dict[str, Any]
    ) -> tuple[str, str, str]:
        """Subject, text and HTML from a CSM's own templates, rendered in the sandbox; the HTML
        is made from the text, with the registration link as the Register button."""
        if self._own_templates is None:
            raise RuntimeError("this renderer has no sandbox for a CSM's own templates")
        rendered = await self._own_templates.render(
            {"subject_template": subject_template, "body_template": body_template}, context
        )
        text = rendered["body_template"].strip() + "\n"
        html = email_html.from_text(text, str(context.get("registration_url", "")))
        return _one_line(rendered["subject_template"]), text, html

    async def clean_html(self, html: str) -> str:
        """An HTML body a CSM edited, reduced to what email clients render; off the event loop,
        as sanitizing takes about a millisecond per kilobyte."""
        size = len(html.encode("utf-8", "surrogatepass"))
        if size > self._max_html_bytes:
            raise InvalidArgument.single(
                "draft.content.html_body", f"must be at most {self._max_html_bytes // 1024:,} KiB"
            )
        return await asyncio.to_thread(email_html.sanitize, html)

    def render_notice(
        self,
        notice: Notice,
        recipient: Recipient,
        registration_url: str,
        customer: Customer,
        now: dt.datetime,
    ) -> Content:
        """A notice of a session change to one person who was invited to it."""
        session = notice.session
        first_name = recipient.display_name.split()[0] if recipient.display_name.split() else ""
        context: dict[str, Any] = {
            "recipient": {"first_name": first_name, "display_name": recipient.display_name},
            "session": {
                "title": session.title,
                "presenter": session.presenter,
                "join_url": session.join_url,
            },
            "when": local_logistics(session, recipient.time_zone),
            "previous_when": local_logistics(
                replace(
                    session,
                    start_time=notice.previous_start_time or session.start_time,
                    time_zone=notice.previous_time_zone or session.time_zone,
                ),
                recipient.time_zone,
            ),
            "reason": notice.reason,
            "alternatives": [
                {"title": a.title, "when": local_logistics(a, recipient.time_zone)}
                for a in notice.alternatives
            ],
            "registration_url": registration_url,
            "csm": _csm(customer),
        }
        subject, text, html = self._render_folder(f"notices/{notice.purpose.value}", context)
        ics = calendar_invitation(
            session,
            customer,
            recipient,
            registration_url,
            now,
            cancelled=notice.purpose is Purpose.CANCELLED,
        )
        return Content(subject, text, html, ics)

    def _render_folder(self, folder: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """Subject, text and HTML from a folder's three templates."""
        subject = _one_line(self._env.get_template(f"{folder}/subject.txt").render(context))
        text = self._env.get_template(f"{folder}/body.txt").render(context).strip() + "\n"
        html = self._env.get_template(f"{folder}/body.html").render(context)
        return subject, text, html

    def render_confirmation(
        self,
        kind: ConfirmationKind,
        session: SessionInfo,
        recipient: Recipient,
        registration_url: str,
        customer: Customer,
        now: dt.datetime,
        waitlist_position: int = 0,
    ) -> Content:
        """The answer to one person's registration; with the calendar entry (the invitation's
        UID) when they hold a seat, none while they wait for one."""
        first_name = recipient.display_name.split()[0] if recipient.display_name.split() else ""
        context: dict[str, Any] = {
            "recipient": {"first_name": first_name, "display_name": recipient.display_name},
            "session": {
                "title": session.title,
                "presenter": session.presenter,
                "join_url": session.join_url,
            },
            "when": local_logistics(session, recipient.time_zone),
            "waitlist_position": waitlist_position,
            "registration_url": registration_url,
            "csm": _csm(customer),
        }
        subject, text, html = self._render_folder(f"confirmations/{kind.value}", context)
        ics = (
            ""
            if kind is ConfirmationKind.WAITLISTED
            else calendar_invitation(session, customer, recipient, registration_url, now)
        )
        return Content(subject, text, html, ics)


def calendar_invitation(
    session: SessionInfo,
    customer: Customer,
    recipient: Recipient,
    registration_url: str,
    now: dt.datetime,
    cancelled: bool = False,
) -> str:
    """RFC 5545 METHOD:REQUEST (or CANCEL) with a UID fixed per session and a SEQUENCE that
    grows with each change, so a calendar replaces the event instead of adding another."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//trainvite//training invitations//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = icalendar.Event()
    event.add("uid", f"{session.id}@{CALENDAR_DOMAIN}")
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", session.start_time.astimezone(dt.UTC))
    event.add("dtend", (session.start_time + session.duration).astimezone(dt.UTC))
    event.add("sequence", session.sequence)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("summary", session.title)
    event.add(
        "description",
        f"{session.title}\nRegister: {registration_url}"
        + (f"\nJoin: {session.join_url}" if session.join_url else ""),
    )
    if session.join_url:
        event.add("location", session.join_url)
        event.add("url", session.join_url)
    organizer = icalendar.vCalAddress(f"mailto:{customer.csm_email}")
    organizer.params["cn"] = icalendar.vText(_one_line(customer.csm_name))
    event.add("organizer", organizer)
    attendee = icalendar.vCalAddress(f"mailto:{recipient.email}")
    attendee.params["cn"] = icalendar.vText(_one_line(recipient.display_name))
    attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = icalendar.vText("NEEDS-ACTION")
    attendee.params["rsvp"] = icalendar.vText("TRUE")
    event.add("attendee", attendee)
    cal.add_component(event)
    return str(cal.to_ical().decode())


def _csm(customer: Customer) -> dict[str, str]:
    """The CSM as the templates sign with."""
    return {
        "name": customer.csm_name,
        "email": customer.csm_email,
        "signature": customer.csm_signature,
    }
