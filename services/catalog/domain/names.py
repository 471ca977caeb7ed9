"""Every resource name of the catalog, parsed and made here only."""

from __future__ import annotations

import uuid

from services.common.errors import InvalidArgument

SESSION_PREFIX = "training-sessions/"
COURSE_PREFIX = "courses/"


def session_name(session_id: uuid.UUID) -> str:
    return f"{SESSION_PREFIX}{session_id}"


def course_name(course_id: uuid.UUID) -> str:
    return f"{COURSE_PREFIX}{course_id}"


def _parse_name(name: str, prefix: str, field_name: str) -> uuid.UUID:
    if not name.startswith(prefix):
        raise InvalidArgument.single(field_name, f"must look like {prefix}{{id}}")
    try:
        return uuid.UUID(name.removeprefix(prefix))
    except ValueError as exc:
        raise InvalidArgument.single(field_name, "the id part is not a valid id") from exc


def parse_session_name(name: str, field_name: str = "name") -> uuid.UUID:
    """The id inside "training-sessions/{id}", or InvalidArgument naming `field_name`."""
    return _parse_name(name, SESSION_PREFIX, field_name)


def parse_course_name(name: str, field_name: str = "name") -> uuid.UUID:
    """The id inside "courses/{id}", or InvalidArgument naming `field_name`."""
    return _parse_name(name, COURSE_PREFIX, field_name)
