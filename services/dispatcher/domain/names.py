"""Every resource name the dispatcher reads, parsed here and nowhere else."""

from __future__ import annotations

import re

from services.common.errors import InvalidArgument

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_BATCH = rf"customers/[A-Za-z0-9_-]{{1,64}}/invitation-batches/{_UUID}"
_BATCH_NAME = re.compile(_BATCH)
_DRAFT_NAME = re.compile(rf"(?P<batch>{_BATCH})/drafts/{_UUID}")
# A status name's batch id is taken as any 36 hex digits and dashes, as it always was: one that
# is no UUID names no batch, and reads as a batch with no deliveries.
_DELIVERY_STATUS = re.compile(
    r"(?P<batch>customers/[A-Za-z0-9_-]{1,64}/invitation-batches/[0-9a-fA-F-]{36})/delivery-status"
)
_SENDER_PREFIX = "senders/"
_BATCH_TRACKING = re.compile(rf"(?P<batch>{_BATCH})/tracking")
_SESSION_TRACKING = re.compile(r"(?P<session>training-sessions/[A-Za-z0-9_-]{1,64})/tracking")


def is_batch(name: str) -> bool:
    """customers/{customer}/invitation-batches/{batch}"""
    return _BATCH_NAME.fullmatch(name) is not None


def is_draft_of(name: str, batch: str) -> bool:
    """customers/{customer}/invitation-batches/{batch}/drafts/{draft}, a draft of `batch`."""
    match = _DRAFT_NAME.fullmatch(name)
    return match is not None and match["batch"] == batch


def is_draft(name: str) -> bool:
    """customers/{customer}/invitation-batches/{batch}/drafts/{draft}, of any batch."""
    return _DRAFT_NAME.fullmatch(name) is not None


def batch_of_tracking(name: str) -> str:
    """The batch of customers/{customer}/invitation-batches/{batch}/tracking."""
    match = _BATCH_TRACKING.fullmatch(name)
    if match is None:
        raise InvalidArgument.single(
            "name", "must look like customers/{customer}/invitation-batches/{batch}/tracking"
        )
    return match["batch"]


def session_of_tracking(name: str) -> str:
    """The session (training-sessions/{id}) of training-sessions/{id}/tracking."""
    match = _SESSION_TRACKING.fullmatch(name)
    if match is None:
        raise InvalidArgument.single("name", "must look like training-sessions/{id}/tracking")
    return match["session"]


def batch_of_status(name: str) -> str:
    """The batch of customers/{customer}/invitation-batches/{batch}/delivery-status."""
    match = _DELIVERY_STATUS.fullmatch(name)
    if match is None:
        raise InvalidArgument.single(
            "name", "must look like customers/{customer}/invitation-batches/{batch}/delivery-status"
        )
    return match["batch"]


def sender_of_control(name: str) -> str:
    """The mailbox of senders/{email}, lower-cased."""
    email = name.removeprefix(_SENDER_PREFIX)
    if "@" not in email:
        raise InvalidArgument.single("sender_control.name", "must look like senders/{email}")
    return email.lower()
