"""The session's event in the CSM's Google Calendar (Calendar API v3, google-api-python-client),
written as the CSM: a service account with domain-wide delegation impersonates the organizer,
or one OAuth token file authorizes a single calendar.

Concurrent writers: a registration reads the event's attendees, adds one and writes them back,
so two writers could each drop the other's attendee. The write carries the etag of the read in
If-Match, and a 412 (someone wrote in between) reads again and reapplies the change. We chose
this over a PostgreSQL advisory lock around get+patch because the other writers are not all
ours: the CSM edits the event in Google Calendar and attendees' answers change it too, which
no lock of ours holds back, while the etag check covers every writer; and it holds no database
connection across calls to Google. Creation needs no check: the event id is fixed per session
and Google refuses a second insert of an id (409), which then falls back to read and patch.

sendUpdates is "none" on every write: the person already has trainvite's confirmation, sent
from the CSM's mailbox with the calendar entry (.ics) after the CSM's approval; an invitation
from Google on top would be a second, unapproved email, mailed even to a suppressed address.
The same holds when the session moves or is cancelled: the invitees hear of it from the
notice the CSM approves, with its own calendar entry.

A session's move patches only the fields the session decides (time, title, description, join
URL), so it needs no If-Match: attendees and whatever else the CSM edited stay as they are. A
cancelled session's event is deleted (events.delete, which Google documents for telling the
guests of a cancellation; Google keeps the event with status "cancelled").
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from services.dispatcher.adapters.google_api import GoogleApi
from services.dispatcher.domain.calendar import SessionEvent, same_address
from services.dispatcher.service_layer.ports import (
    CalendarRefusedError,
    CalendarUnavailableError,
)

SCOPES = ["https://www.googleapis.com/auth/calendar.events"]
# The organizer's own calendar: the one the delegated (or token) credentials act as.
CALENDAR_ID = "primary"
SEND_UPDATES = "none"
# Reads and writes again after this many 412s in a row, then leaves it to a redelivery.
CONFLICT_ATTEMPTS = 5
# Google answers "slow down" with 429, or with 403 and one of these reasons.
_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
_NETWORK_ERRORS = (httplib2.HttpLib2Error, ssl.SSLError, OSError, TransportError)

Attendees = list[dict[str, Any]]


class _Conflict(Exception):
    """The event changed since we read it (412), or already exists (409)."""


def _reason(error: HttpError) -> tuple[str, str]:
    """(reason, message) from Google's error body."""
    try:
        inner = json.loads(error.content.decode())["error"]
        first = (inner.get("errors") or [{}])[0]
        return str(first.get("reason", "")), str(inner.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return "", ""


def classify(error: HttpError, organizer: str) -> Exception:
    """What an HTTP error from Google Calendar means for the registration's event."""
    status = error.resp.status
    reason, message = _reason(error)
    said = " ".join(
        part for part in (str(status), reason, message if message != reason else "") if part
    )
    if status == 429 or status >= 500 or (status == 403 and reason in _RATE_LIMIT_REASONS):
        return CalendarUnavailableError(f"Google Calendar answered {said}")
    if status in (401, 403):
        return CalendarRefusedError(
            f"Google Calendar refused to act as {organizer}: {said} (is domain-wide delegation"
            f" granted for {' '.join(SCOPES)}?)"
        )
    return CalendarRefusedError(f"Google Calendar refused the request for {organizer}: {said}")


class GoogleCalendar:
    """Adds and removes attendees of a session's event in the organizer's primary calendar,
    and moves or cancels the event with its session."""

    def __init__(
        self,
        service_account_file: Path | None = None,
        token_file: Path | None = None,
        api_endpoint: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._google = GoogleApi(
            ("calendar", "v3"),
            SCOPES,
            service_account_file,
            token_file,
            api_endpoint,
            make_http=lambda: httplib2.Http(timeout=timeout_seconds),
        )

    def _events(self, organizer: str) -> Any:
        """This thread's events resource of the organizer's calendar."""
        return self._google.client(organizer).events()

    async def add_attendee(self, organizer: str, event: SessionEvent, email: str) -> bool:
        return await asyncio.to_thread(self._add, organizer, event, email)

    async def remove_attendee(self, organizer: str, event_id: str, email: str) -> bool:
        return await asyncio.to_thread(self._remove, organizer, event_id, email)

    async def move_event(self, organizer: str, event: SessionEvent) -> bool:
        return await asyncio.to_thread(self._move, organizer, event)

    async def cancel_event(self, organizer: str, event_id: str) -> bool:
        return await asyncio.to_thread(self._cancel, organizer, event_id)

    def _move(self, organizer: str, event: SessionEvent) -> bool:
        request = self._events(organizer).patch(
            calendarId=CALENDAR_ID,
            eventId=event.event_id,
            body=_session_fields(event),
            sendUpdates=SEND_UPDATES,
        )
        patched = _execute(request, organizer, missing_ok=True)
        # A deleted event takes the patch and stays deleted: nothing moved that anyone sees.
        return patched is not None and patched.get("status") != "cancelled"

    def _cancel(self, organizer: str, event_id: str) -> bool:
        request = self._events(organizer).delete(
            calendarId=CALENDAR_ID, eventId=event_id, sendUpdates=SEND_UPDATES
        )
        # 410 for an event deleted already, 404 for one never created in this calendar.
        return _execute(request, organizer, missing_ok=True) is not None

    def _add(self, organizer: str, event: SessionEvent, email: str) -> bool:
        events = self._events(organizer)
        request = events.insert(
            calendarId=CALENDAR_ID, body=_new_event(event, email), sendUpdates=SEND_UPDATES
        )
        try:
            _execute(request, organizer)
            return True
        except _Conflict:
            pass  # the session's event exists: add to it

        def added(attendees: Attendees) -> Attendees | None:
            if any(same_address(str(a.get("email", "")), email) for a in attendees):
                return None
            return [*attendees, _attendee(email)]

        return self._edit(events, organizer, event.event_id, added, restore=True)

    def _remove(self, organizer: str, event_id: str, email: str) -> bool:
        def removed(attendees: Attendees) -> Attendees | None:
            kept = [a for a in attendees if not same_address(str(a.get("email", "")), email)]
            return None if len(kept) == len(attendees) else kept

        return self._edit(self._events(organizer), organizer, event_id, removed, restore=False)

    def _edit(
        self,
        events: Any,
        organizer: str,
        event_id: str,
        change: Callable[[Attendees], Attendees | None],
        restore: bool,
    ) -> bool:
        """Read the event, change its attendees, write them back if it has not changed since
        (If-Match); again on a 412. False when the change changes nothing."""
        for _ in range(CONFLICT_ATTEMPTS):
            current = _execute(
                events.get(calendarId=CALENDAR_ID, eventId=event_id), organizer, missing_ok=True
            )
            if current is None:
                if restore:  # it existed a moment ago (409): deleted since, try again later
                    raise CalendarUnavailableError(f"event {event_id} vanished after a 409")
                return False  # nobody to take off an event that is not there
            deleted = current.get("status") == "cancelled"
            if deleted and not restore:
                return False
            attendees = change(list(current.get("attendees") or []))
            if attendees is None and not deleted:
                return False
            if attendees is None:  # only the restore below to write
                attendees = list(current.get("attendees") or [])
            body: dict[str, Any] = {"attendees": attendees}
            if deleted:
                # The CSM deleted the event (Google keeps its id); a new registration brings it
                # back, as the session is on.
                body["status"] = "confirmed"
            request = events.patch(
                calendarId=CALENDAR_ID, eventId=event_id, body=body, sendUpdates=SEND_UPDATES
            )
            request.headers["If-Match"] = current["etag"]
            try:
                _execute(request, organizer)
                return True
            except _Conflict:
                continue  # written in between: read again, apply again
        raise CalendarUnavailableError(
            f"event {event_id} kept changing: {CONFLICT_ATTEMPTS} writes refused with 412"
        )


def _attendee(email: str) -> dict[str, Any]:
    # Registering is accepting: the CSM sees the person as coming.
    return {"email": email, "responseStatus": "accepted"}


def _session_fields(event: SessionEvent) -> dict[str, Any]:
    """What the session decides of its event: written on creation, and again on every move."""
    return {
        "summary": event.title,
        "description": event.description,
        "location": event.location,
        "start": {"dateTime": event.start.isoformat(), "timeZone": event.time_zone},
        "end": {"dateTime": event.end.isoformat(), "timeZone": event.time_zone},
        "extendedProperties": {"private": {"trainviteSession": event.training_session}},
    }


def _new_event(event: SessionEvent, email: str) -> dict[str, Any]:
    return {
        "id": event.event_id,
        **_session_fields(event),
        "attendees": [_attendee(email)],
        # The attendees are people of different customers: none may see the others.
        "guestsCanSeeOtherGuests": False,
        "guestsCanInviteOthers": False,
    }


def _execute(request: Any, organizer: str, missing_ok: bool = False) -> Any:
    """Run a call once (no blind retries below us: the consumer decides); Google's answers as
    the calendar port's errors. None for a 404 when `missing_ok`; _Conflict on 409 and 412."""
    try:
        return request.execute(num_retries=0)
    except HttpError as error:
        status = error.resp.status
        if status in (409, 412):
            raise _Conflict(str(status)) from error
        if status in (404, 410) and missing_ok:
            return None
        raise classify(error, organizer) from error
    except RefreshError as error:
        # The token endpoint refused the grant: for a service account, domain-wide delegation
        # is not granted (unauthorized_client), which no retry changes.
        if getattr(error, "retryable", False):
            raise CalendarUnavailableError(f"token for {organizer}: {error}") from error
        raise CalendarRefusedError(
            f"no calendar token for {organizer}: {error} (is domain-wide delegation granted"
            f" for {' '.join(SCOPES)}?)"
        ) from error
    except _NETWORK_ERRORS as error:
        raise CalendarUnavailableError(f"{type(error).__name__}: {error}") from error
