"""The calendar file of a session, built from the session as it is when it is asked for."""

from __future__ import annotations

import datetime as dt

import icalendar

from services.edge.service_layer.ports import Session

# The UID the personalizer gives the session's invitations: a calendar that holds the emailed
# invitation updates that entry instead of adding a second one.
CALENDAR_DOMAIN = "trainvite.dev"


def session_calendar(session: Session, email: str, page_url: str, now: dt.datetime) -> bytes:
    """RFC 5545, METHOD:PUBLISH: an entry to add, not an invitation to answer."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//trainvite//registration//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", f"{session.name.rsplit('/', 1)[-1]}@{CALENDAR_DOMAIN}")
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", session.start.astimezone(dt.UTC))
    event.add("dtend", session.end.astimezone(dt.UTC))
    event.add("sequence", session.sequence)
    event.add("status", "CONFIRMED")
    event.add("summary", session.title)
    lines = [session.title]
    if session.presenter:
        lines.append(f"Presenter: {session.presenter}")
    lines.append(f"Your registration: {page_url}")
    if session.join_url:
        lines.append(f"Join: {session.join_url}")
        event.add("location", session.join_url)
        event.add("url", session.join_url)
    event.add("description", "\n".join(lines))
    attendee = icalendar.vCalAddress(f"mailto:{email}")
    attendee.params["partstat"] = icalendar.vText("ACCEPTED")
    event.add("attendee", attendee)
    cal.add_component(event)
    ical: bytes = cal.to_ical()
    return ical
