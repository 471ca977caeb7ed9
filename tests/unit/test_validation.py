"""The checks every request passes before its handler: each bad value named by its path."""

from __future__ import annotations

import uuid

from google.protobuf.duration_pb2 import Duration
from google.protobuf.struct_pb2 import Struct, Value
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.catalog.v1 import catalog_pb2
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2
from trainvite.personalizer.v1 import personalizer_pb2

from services.common.validation import (
    DEFAULT_MAX_STRING_CHARS,
    EVENT_LIMITS,
    TIMESTAMP_MAX_SECONDS,
    TIMESTAMP_MIN_SECONDS,
    request_violations,
    violations,
)


def fields(message: object) -> list[str]:
    return [v.field for v in request_violations(message)]  # type: ignore[arg-type]


def test_a_well_formed_request_passes() -> None:
    request = catalog_pb2.CreateCourseRequest(
        course=catalog_pb2.Course(
            title="Advanced Analytics",
            duration=Duration(seconds=5400),
            learning_outcomes=[catalog_pb2.LearningOutcome(feature="dashboards", text="é ✓")],
        )
    )
    assert fields(request) == []


def test_nul_is_named_by_its_path_in_nested_and_repeated_fields() -> None:
    request = catalog_pb2.CreateCourseRequest(
        course=catalog_pb2.Course(
            title="a\x00",
            features=["ok", "b\x00"],
            learning_outcomes=[
                catalog_pb2.LearningOutcome(text="ok"),
                catalog_pb2.LearningOutcome(text="c\x00"),
            ],
        )
    )
    assert fields(request) == [
        "course.title",
        "course.features[1]",
        "course.learning_outcomes[1].text",
    ]


def test_map_values_are_named_by_their_key() -> None:
    message = Struct(fields={"k": Value(string_value="x\x00")})
    assert fields(message) == ["fields['k'].string_value"]


def test_timestamps_outside_protobufs_range_or_with_bad_nanos_are_refused() -> None:
    def listing(ts: Timestamp) -> list[str]:
        return fields(catalog_pb2.ListTrainingSessionsRequest(start_after=ts))

    assert listing(Timestamp(seconds=TIMESTAMP_MAX_SECONDS, nanos=999_999_999)) == []
    assert listing(Timestamp(seconds=TIMESTAMP_MIN_SECONDS)) == []
    assert listing(Timestamp(seconds=TIMESTAMP_MAX_SECONDS + 1)) == ["start_after"]
    assert listing(Timestamp(seconds=TIMESTAMP_MIN_SECONDS - 1)) == ["start_after"]
    assert listing(Timestamp(seconds=10**15)) == ["start_after"]
    assert listing(Timestamp(seconds=0, nanos=-1)) == ["start_after"]
    assert listing(Timestamp(seconds=0, nanos=1_000_000_000)) == ["start_after"]


def test_durations_outside_protobufs_range_or_with_bad_nanos_are_refused() -> None:
    def course(d: Duration) -> list[str]:
        return fields(catalog_pb2.Course(duration=d))

    assert course(Duration(seconds=-5, nanos=-5)) == []
    assert course(Duration(seconds=315_576_000_000)) == []
    assert course(Duration(seconds=10**15)) == ["duration"]
    assert course(Duration(seconds=-315_576_000_001)) == ["duration"]
    assert course(Duration(seconds=1, nanos=-1)) == ["duration"]
    assert course(Duration(seconds=0, nanos=1_000_000_000)) == ["duration"]


def test_strings_past_the_cap_are_refused_but_documents_may_be_longer() -> None:
    long = "a" * (DEFAULT_MAX_STRING_CHARS + 1)
    assert fields(catalog_pb2.SearchTrainingSessionsRequest(query=long)) == ["query"]
    assert fields(catalog_pb2.SearchTrainingSessionsRequest(query=long[:-1])) == []
    edited = personalizer_pb2.UpdateInvitationDraftRequest(
        draft=personalizer_pb2.InvitationDraft(
            content=common_pb2.InvitationContent(subject=long, html_body=long)
        )
    )
    assert fields(edited) == ["draft.content.subject"]


def test_several_bad_fields_are_named_in_field_order() -> None:
    # Clean strings are screened together; once one is not, each field is named in order.
    event = events_pb2.AttendanceRecorded(
        event_id=str(uuid.uuid4()),
        training_session="a\x07",
        email="b\x00@example.com",
        kind=9,  # type: ignore[arg-type]
        source="c\x1b",
    )
    found = [v.field for v in violations(event, EVENT_LIMITS)]
    assert found == ["training_session", "email", "kind", "source"]


def test_a_document_longer_than_the_plain_cap_passes_beside_short_fields() -> None:
    # The screen compares the longest string with the tightest limit (64 KiB, the subject's):
    # a 100 KiB body goes past it, and is then judged against its own 512 KiB.
    body = "a" * 100 * 1024
    content = common_pb2.InvitationContent(subject="Hi", text_body=body, html_body=body)
    assert fields(content) == []
    assert fields(common_pb2.InvitationContent(subject="\x00", text_body=body)) == ["subject"]
