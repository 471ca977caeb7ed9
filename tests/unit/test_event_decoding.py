"""Telling an event that can never be processed from one that can, field by field."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2

from services.common.messaging import decoding
from services.common.messaging.consumer import PoisonMessage
from services.dispatcher.api import subscriptions
from tests.integration.event_checks import approval

EVENT_ID = str(uuid.uuid4())


def _reason(event: events_pb2.AttendanceRecorded | events_pb2.TrainingSessionChanged) -> str:
    with pytest.raises(PoisonMessage) as caught:
        decoding.parse_event(type(event), event.SerializeToString())
    return str(caught.value)


def test_a_well_formed_event_decodes() -> None:
    event = events_pb2.AttendanceRecorded(
        event_id=EVENT_ID, email="dana@northwind.example", kind=events_pb2.ATTENDANCE_KIND_ATTENDED
    )
    event.occur_time.GetCurrentTime()
    decoded, event_id = decoding.parse_event(
        events_pb2.AttendanceRecorded, event.SerializeToString()
    )
    assert decoded == event and str(event_id) == EVENT_ID


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        (lambda e: setattr(e, "email", "a\x00@b.example"), "email: contains the control character"),
        (lambda e: setattr(e, "source", "zoom\x1b[31m"), "source: contains the control character"),
        (lambda e: setattr(e.occur_time, "seconds", 253_402_300_800), "occur_time: seconds"),
        (lambda e: setattr(e.occur_time, "seconds", -62_135_596_801), "occur_time: seconds"),
        (lambda e: setattr(e.occur_time, "nanos", -1), "occur_time: nanos -1"),
        (lambda e: setattr(e, "kind", 9), "kind: unknown AttendanceKind value 9"),
        (lambda e: setattr(e, "event_id", "17"), "event_id: '17' is not a UUID"),
        (lambda e: setattr(e, "event_id", EVENT_ID.replace("-", "")), "event_id:"),
        (lambda e: setattr(e, "event_id", ""), "event_id: is required"),
    ],
)
def test_each_impossible_value_is_poison_naming_its_field(spoil: object, expected: str) -> None:
    event = events_pb2.AttendanceRecorded(event_id=EVENT_ID, email="dana@northwind.example")
    spoil(event)  # type: ignore[operator]
    assert expected in _reason(event)


def test_nested_and_repeated_fields_are_named_by_their_path() -> None:
    event = events_pb2.TrainingSessionChanged(event_id=EVENT_ID)
    event.training_session.learning_outcomes.add(text="ok")
    event.training_session.learning_outcomes.add(text="bell\x07")
    assert _reason(event).startswith("training_session.learning_outcomes[1].text:")
    event = events_pb2.TrainingSessionChanged(event_id=EVENT_ID)
    event.training_session.duration.seconds = 60
    event.training_session.duration.nanos = -5
    assert _reason(event) == "training_session.duration: seconds and nanos have different signs"


def test_bytes_that_do_not_parse_are_poison() -> None:
    with pytest.raises(PoisonMessage, match="not an InvitationApproved"):
        decoding.parse(events_pb2.InvitationApproved, b"\xff\xfe\x00 garbage")


def test_tab_and_line_breaks_are_text() -> None:
    content = common_pb2.InvitationContent(text_body="Hello,\r\n\tsee you\n")
    assert list(decoding.problems(content)) == []


@pytest.mark.parametrize("address", ["josé@example.com", "jose@exämple.com"])
def test_an_approval_to_an_address_outside_ascii_is_poison(address: str) -> None:
    with pytest.raises(PoisonMessage, match=r"recipient\.email: .* needs SMTPUTF8"):
        subscriptions.invitation_approved(approval(address).SerializeToString())


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [
        (0, 0),
        (1_767_225_600, 999_999_999),  # rounded toward zero, as ToDatetime does
        (1_767_225_600, 1_500),
        (-1, 500_000_000),
        (-62_135_596_800, 0),  # 0001-01-01, the first moment parse accepts
        (253_402_300_799, 999_999_999),  # 9999-12-31T23:59:59.999999999, the last
    ],
)
def test_utc_time_is_protobufs_own_reading(seconds: int, nanos: int) -> None:
    stamp = Timestamp(seconds=seconds, nanos=nanos)
    assert decoding.utc_time(stamp) == stamp.ToDatetime(tzinfo=dt.UTC)
    assert decoding.utc_time(stamp).tzinfo is dt.UTC
