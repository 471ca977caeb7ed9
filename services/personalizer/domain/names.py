"""Every resource name the personalizer reads or writes: its own batches and drafts, and the
catalog's sessions as events name them."""

from __future__ import annotations

import re
import uuid

from services.common.errors import InvalidArgument

_CUSTOMER = r"customers/(?P<customer>[A-Za-z0-9_-]{1,64})"
_BATCH = _CUSTOMER + r"/invitation-batches/(?P<batch>[0-9a-fA-F-]{36})"
_HEX = "[0-9a-fA-F]"
_SESSION = rf"training-sessions/{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"


def _match(pattern: str, name: str, field: str, shape: str) -> re.Match[str]:
    match = re.fullmatch(pattern, name)
    if match is None:
        raise InvalidArgument.single(field, f"must look like {shape}")
    return match


def csm_email(name: str, field: str = "scope") -> str:
    """The address in "csms/{email}"."""
    return _match(r"csms/(?P<email>[^/\s]+@[^/\s]+)", name, field, "csms/{email}")["email"]


def customer_id(name: str, field: str = "parent") -> str:
    """The id in "customers/{customer}"."""
    return _match(_CUSTOMER, name, field, "customers/{customer}")["customer"]


def gaps_customer_id(name: str, field: str = "name") -> str:
    """The customer in "customers/{customer}/training-gaps"."""
    pattern = _CUSTOMER + "/training-gaps"
    return _match(pattern, name, field, "customers/{customer}/training-gaps")["customer"]


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidArgument.single(field, "holds an id that is not valid") from exc


def batch_id(name: str, field: str = "name") -> tuple[str, uuid.UUID]:
    """(customer, batch) in "customers/{customer}/invitation-batches/{batch}"."""
    m = _match(_BATCH, name, field, "customers/{customer}/invitation-batches/{batch}")
    return m["customer"], _uuid(m["batch"], field)


def draft_id(name: str, field: str = "draft.name") -> tuple[str, uuid.UUID, uuid.UUID]:
    """(customer, batch, draft) in ".../invitation-batches/{batch}/drafts/{draft}"."""
    pattern = _BATCH + r"/drafts/(?P<draft>[0-9a-fA-F-]{36})"
    m = _match(pattern, name, field, "customers/{c}/invitation-batches/{b}/drafts/{d}")
    return m["customer"], _uuid(m["batch"], field), _uuid(m["draft"], field)


def customer_name(customer: str) -> str:
    return f"customers/{customer}"


def gaps_name(customer: str) -> str:
    return f"{customer_name(customer)}/training-gaps"


def batch_name(customer: str, batch: uuid.UUID) -> str:
    return f"{customer_name(customer)}/invitation-batches/{batch}"


def draft_name(customer: str, batch: uuid.UUID, draft: uuid.UUID) -> str:
    return f"{batch_name(customer, batch)}/drafts/{draft}"


def session_id(name: str) -> str:
    """The catalog's id of a session, the last part of its name."""
    return name.rsplit("/", 1)[-1]


def session_name(name: str, field: str = "training_session") -> str:
    """A catalog session's name, "training-sessions/{uuid}", as it stands."""
    _match(_SESSION, name, field, "training-sessions/{session}")
    return name
