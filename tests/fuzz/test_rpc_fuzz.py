"""Every RPC of every service, fed requests generated from its descriptor.

Whatever a caller sends, the answer is a status the caller can act on: never UNKNOWN, INTERNAL or
DEADLINE_EXCEEDED; INVALID_ARGUMENT carries a google.rpc.BadRequest naming fields that exist in
the request; no message shows the code's insides; nothing is logged as an error meanwhile.

The RPCs are read from the service descriptors, so a new RPC is fuzzed without a change here.
Examples per RPC come from the hypothesis profile: "short" in `make test`, "long" in `make fuzz`.
Hypothesis runs in a worker thread and sends each request on the services' event loop.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, MethodDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from trainvite.catalog.v1 import catalog_pb2
from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2
from trainvite.personalizer.v1 import personalizer_pb2

from services.platform.seed import CUSTOMERS
from tests.fuzz.conftest import ErrorRecords
from tests.fuzz.strategies import messages
from tests.helpers import Clients

pytestmark = [pytest.mark.integration]

# (service, index of its channel in Clients.channels)
SERVICES = [
    (catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"], 0),
    (personalizer_pb2.DESCRIPTOR.services_by_name["PersonalizerService"], 1),
    (dispatcher_pb2.DESCRIPTOR.services_by_name["DispatcherService"], 2),
]
METHODS: list[tuple[MethodDescriptor, int]] = [
    (m, channel) for service, channel in SERVICES for m in service.methods
]

# Statuses that mean the service failed, not the request.
FORBIDDEN_CODES = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
# Signs of the code's insides in an error message.
INTERNALS = re.compile(
    r"Traceback|Error\(|Exception\(|asyncpg|psycopg|File \"|\.py\b|0x[0-9a-f]{6,}"
)
CALL_TIMEOUT_SECONDS = 30.0


@dataclass
class Known:
    """Names and ids that exist in the fuzz database, so some requests reach past the lookups."""

    ids: list[str] = field(default_factory=list)


def _ids_in(name: str) -> list[str]:
    return [part for part in name.split("/") if part]


@pytest.fixture(scope="module")
async def known(fuzz_services: Clients) -> Known:
    c = fuzz_services
    found = Known(ids=[customer.id for customer in CUSTOMERS])
    courses = await c.catalog.ListCourses(
        catalog_pb2.ListCoursesRequest(page_size=100, show_cancelled=True), metadata=c.service
    )
    sessions = await c.catalog.ListTrainingSessions(
        catalog_pb2.ListTrainingSessionsRequest(page_size=100, include_past=True),
        metadata=c.service,
    )
    names = [x.name for x in courses.courses] + [s.name for s in sessions.training_sessions]
    upcoming = await c.catalog.ListTrainingSessions(
        catalog_pb2.ListTrainingSessionsRequest(page_size=1), metadata=c.service
    )
    batch = await c.personalizer.DraftInvitations(
        personalizer_pb2.DraftInvitationsRequest(
            parent="customers/cloudtech",
            training_session=upcoming.training_sessions[0].name,
        ),
        metadata=c.csm,
    )
    names += [batch.name, *[d.name for d in batch.drafts]]
    found.ids += names + [part for name in names for part in _ids_in(name)]
    found.ids += [batch.sender.email, *[d.recipient.email for d in batch.drafts]]
    return found


def _path_exists(descriptor: Descriptor, path: str) -> bool:
    """`sessions[2].title` names a field of `descriptor` (map keys and indexes aside)."""
    current: Descriptor | None = descriptor
    for segment in path.split("."):
        name = segment.split("[", 1)[0]
        if current is None or name not in current.fields_by_name:
            return False
        f = current.fields_by_name[name]
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            current = f.message_type.fields_by_name["value"].message_type
        else:
            current = f.message_type
    return True


def _bad_request(error: grpc.aio.AioRpcError) -> error_details_pb2.BadRequest | None:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    return bad
    return None


def problem_with(
    descriptor: Descriptor, error: grpc.aio.AioRpcError | None
) -> tuple[str, str | None]:
    """The status code's name and what is wrong with the answer, if anything."""
    if error is None:
        return "OK", None
    code, details = error.code(), error.details() or ""
    if code in FORBIDDEN_CODES:
        return code.name, f"{code.name}: {details}"
    if INTERNALS.search(details):
        return code.name, f"{code.name} shows internals: {details[:300]}"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        bad = _bad_request(error)
        if bad is None or not bad.field_violations:
            return code.name, f"INVALID_ARGUMENT without BadRequest field violations: {details}"
        unknown = [v.field for v in bad.field_violations if not _path_exists(descriptor, v.field)]
        if unknown:
            return code.name, f"BadRequest names fields the request lacks: {unknown}"
    return code.name, None


def _callable(channel: grpc.aio.Channel, method: MethodDescriptor) -> Any:
    response_class = GetMessageClass(method.output_type)
    return channel.unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )


async def _call(rpc: Any, request: Message, metadata: Any) -> grpc.aio.AioRpcError | None:
    try:
        await rpc(request, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError as exc:
        return exc
    return None


# Kinds of caller the tests can be; which may call what is the authorization policy's business.
CALLERS = ("csm", "service", "editor", "gateway")
_REFUSED_CALLER = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


async def allowed_callers(c: Clients, rpc: Any, request: Message) -> dict[str, Any]:
    """The callers' tokens the method does not refuse outright (an empty request tells), so
    that generated requests reach the handler; all of them if it refuses every one."""
    tokens = {k: getattr(c, k) for k in CALLERS if hasattr(c, k)}
    allowed = {}
    for kind, token in tokens.items():
        error = await _call(rpc, request, token)
        if error is None or error.code() not in _REFUSED_CALLER:
            allowed[kind] = token
    return allowed or tokens


@pytest.mark.fuzz
@pytest.mark.parametrize(
    ("method", "channel_index"),
    METHODS,
    ids=[f"{m.containing_service.name}.{m.name}" for m, _ in METHODS],
)
async def test_every_rpc_answers_generated_requests_with_a_status_a_caller_can_act_on(
    fuzz_services: Clients,
    known: Known,
    error_records: ErrorRecords,
    method: MethodDescriptor,
    channel_index: int,
) -> None:
    loop = asyncio.get_running_loop()
    rpc = _callable(fuzz_services.channels[channel_index], method)
    empty = GetMessageClass(method.input_type)()
    tokens = await allowed_callers(fuzz_services, rpc, empty)
    requests = messages(method.input_type, known_ids=known.ids, service=method.containing_service)
    codes: Counter[str] = Counter()
    refused_fields: Counter[str] = Counter()

    @settings(database=None)
    @given(request=requests, caller=st.sampled_from(sorted(tokens)))
    def answers_sensibly(request: Message, caller: str) -> None:
        future = asyncio.run_coroutine_threadsafe(_call(rpc, request, tokens[caller]), loop)
        error = future.result(CALL_TIMEOUT_SECONDS + 5)
        code, problem = problem_with(method.input_type, error)
        codes[code] += 1
        bad = _bad_request(error) if error is not None else None
        if bad is not None:
            refused_fields.update({v.field.split("[", 1)[0] for v in bad.field_violations})
        assert problem is None, problem

    try:
        await asyncio.to_thread(answers_sensibly)
    finally:
        print(
            f"\n{method.containing_service.name}.{method.name}: {dict(codes.most_common())}"
            f" refused fields: {dict(refused_fields.most_common(4))}"
        )
    errors = [f"{r.name}: {r.getMessage()}" for r in error_records.records]
    assert not errors, errors[:5]


# Requests that failed inside the services (UNKNOWN, then INTERNAL): one per kind.
_SERVICE_CALLS: list[tuple[str, str, Message, str]] = [
    (
        "catalog",
        "ListTrainingSessions",
        catalog_pb2.ListTrainingSessionsRequest(start_after=Timestamp(seconds=10**15)),
        "start_after",
    ),
    (
        "catalog",
        "ListTrainingSessions",
        catalog_pb2.ListTrainingSessionsRequest(start_before=Timestamp(seconds=0, nanos=-1)),
        "start_before",
    ),
    (
        "catalog",
        "CreateCourse",
        catalog_pb2.CreateCourseRequest(
            course=catalog_pb2.Course(
                title="Huge",
                level=catalog_pb2.SESSION_LEVEL_BEGINNER,
                format=catalog_pb2.SESSION_FORMAT_LIVE_WEBINAR,
                duration=Duration(seconds=10**15),
            )
        ),
        "course.duration",
    ),
    (
        "catalog",
        "CreateCourse",
        catalog_pb2.CreateCourseRequest(
            course=catalog_pb2.Course(
                title="Nul\x00",
                level=catalog_pb2.SESSION_LEVEL_BEGINNER,
                format=catalog_pb2.SESSION_FORMAT_LIVE_WEBINAR,
                duration=Duration(seconds=3600),
                learning_outcomes=[catalog_pb2.LearningOutcome(feature="x", text="ok")] * 2
                + [catalog_pb2.LearningOutcome(feature="x", text="bad\x00")],
            )
        ),
        "course.learning_outcomes[2].text",
    ),
    (
        "catalog",
        "CreateCourse",
        catalog_pb2.CreateCourseRequest(
            course=catalog_pb2.Course(
                title="Too short to store",
                level=catalog_pb2.SESSION_LEVEL_BEGINNER,
                format=catalog_pb2.SESSION_FORMAT_LIVE_WEBINAR,
                duration=Duration(seconds=1),
            )
        ),
        "course.duration",
    ),
    (
        "catalog",
        "SearchTrainingSessions",
        catalog_pb2.SearchTrainingSessionsRequest(query="a" * 100_000),
        "query",
    ),
    (
        "dispatcher",
        "Unsubscribe",
        dispatcher_pb2.UnsubscribeRequest(email="x\x00@example.com"),
        "email",
    ),
]


@pytest.mark.parametrize(
    ("service", "rpc_name", "request_message", "bad_field"),
    _SERVICE_CALLS,
    ids=[f"{s}.{r}:{f}" for s, r, _, f in _SERVICE_CALLS],
)
async def test_a_value_no_field_may_hold_is_invalid_argument_naming_the_field(
    fuzz_services: Clients,
    error_records: ErrorRecords,
    service: str,
    rpc_name: str,
    request_message: Message,
    bad_field: str,
) -> None:
    rpc = getattr(getattr(fuzz_services, service), rpc_name)
    tokens = await allowed_callers(fuzz_services, rpc, type(request_message)())
    error = await _call(rpc, request_message, next(iter(tokens.values())))
    assert error is not None
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    bad = _bad_request(error)
    assert bad is not None
    assert bad_field in [v.field for v in bad.field_violations]
    assert not INTERNALS.search(error.details() or "")
    assert not error_records.records


async def test_an_edited_draft_with_nul_names_the_field(
    fuzz_services: Clients, known: Known, error_records: ErrorRecords
) -> None:
    draft = next(i for i in known.ids if "/drafts/" in i)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await fuzz_services.personalizer.UpdateInvitationDraft(
            personalizer_pb2.UpdateInvitationDraftRequest(
                draft=personalizer_pb2.InvitationDraft(
                    name=draft, content=common_pb2.InvitationContent(subject="Hi\x00")
                ),
                update_mask=FieldMask(paths=["content.subject"]),
            ),
            metadata=fuzz_services.csm,
            timeout=10,
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = _bad_request(raised.value)
    assert bad is not None
    assert [v.field for v in bad.field_violations] == ["draft.content.subject"]
    assert not error_records.records


@pytest.mark.parametrize(
    "start", [Timestamp(seconds=253_402_300_799), Timestamp(seconds=253_402_000_000)]
)
async def test_a_session_at_the_end_of_time_names_its_start(
    fuzz_services: Clients, known: Known, error_records: ErrorRecords, start: Timestamp
) -> None:
    """Within protobuf's range, but its end (start + duration) or its local time is not."""
    course = next(i for i in known.ids if i.startswith("courses/"))
    rpc = fuzz_services.catalog.CreateTrainingSession
    request = catalog_pb2.CreateTrainingSessionRequest(
        training_session=catalog_pb2.TrainingSession(
            course=course, start_time=start, time_zone="Pacific/Kiritimati"
        )
    )
    tokens = await allowed_callers(fuzz_services, rpc, catalog_pb2.CreateTrainingSessionRequest())
    error = await _call(rpc, request, next(iter(tokens.values())))
    assert error is not None
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    bad = _bad_request(error)
    assert bad is not None
    assert "training_session.start_time" in [v.field for v in bad.field_violations]
    assert not error_records.records
