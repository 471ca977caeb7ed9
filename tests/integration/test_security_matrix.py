"""Security matrix: every RPC of every service, over real gRPC, against bad tokens, callers whose
role may not call it, and a CSM reaching for another CSM's customers.

Another CSM's customer, batch, draft, delivery or address must answer exactly like one that does
not exist, and no answer or error text may carry anything of that customer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import jwt
import pytest
from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message
from google.protobuf.text_format import MessageToString
from trainvite.catalog.v1 import catalog_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2 as dpb
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.auth import CallerKind, issue_token
from services.common.authorization import POLICY
from services.platform.seed import CUSTOMERS, OTHER_CSM_EMAIL, PEOPLE
from tests.helpers import Clients, bearer
from tests.integration.catalog_data import analytics_session, new_course, new_session
from tests.tokens import b64, claims, unsigned
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: its tests invite the same people, and a delivery still pending when
    one ends would land in the next test's outbox."""
    return fresh_database_url


Metadata = tuple[tuple[str, str], ...]

SERVICES = [
    catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
    pb.DESCRIPTOR.services_by_name["PersonalizerService"],
    dpb.DESCRIPTOR.services_by_name["DispatcherService"],
]
METHODS = [m for s in SERVICES for m in s.methods]


def full_name(method: descriptor.MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


@dataclass(frozen=True)
class Answer:
    code: grpc.StatusCode
    details: str
    reply: Message | None

    @property
    def text(self) -> str:
        """Everything the caller reads: the error text or the whole reply."""
        return self.details + (MessageToString(self.reply) if self.reply is not None else "")


def _channel(c: Clients, method: descriptor.MethodDescriptor) -> grpc.aio.Channel:
    return c.channels[SERVICES.index(method.containing_service)]


async def call(
    c: Clients,
    method: descriptor.MethodDescriptor,
    request: Message | None = None,
    metadata: Metadata | None = None,
) -> Answer:
    """Call any RPC by its descriptor, as a client that only knows the contract would."""
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    rpc = _channel(c, method).unary_unary(
        full_name(method),
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    try:
        reply = await rpc(request or request_class(), metadata=metadata, timeout=15)
    except grpc.aio.AioRpcError as exc:
        return Answer(exc.code(), exc.details() or "", None)
    return Answer(grpc.StatusCode.OK, "", reply)


def method(name: str) -> descriptor.MethodDescriptor:
    """The RPC of that name (names are unique across the three services)."""
    return next(m for m in METHODS if m.name == name)


# Bad tokens ---------------------------------------------------------------------------------

OTHER_KEY = "not-our-key-but-just-as-long-as-one-0123456789"
ALEX = "alex.rivera@trainvite.dev"


def bad_tokens(key: str) -> Iterator[tuple[str, Metadata]]:
    """Each way a caller can fail to prove who they are, with the metadata that carries it."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    yield "no token", ()
    yield "not a bearer scheme", (("authorization", f"Basic {b64({'u': 'p'})}"),)
    yield "empty bearer", (("authorization", "Bearer "),)
    yield "malformed", bearer("not-a-jwt")
    yield "three garbage parts", bearer("x.y.z")
    yield "expired", bearer(issue_token(key, ALEX, CallerKind.CSM, dt.timedelta(seconds=-60)))
    yield "signed with another key", bearer(issue_token(OTHER_KEY, ALEX, CallerKind.CSM))
    yield "alg none", bearer(unsigned(claims()))
    yield (
        "alg none, signature kept",
        bearer(unsigned(claims()) + issue_token(key, ALEX, CallerKind.CSM).rsplit(".", 1)[1]),
    )
    yield "HS512", bearer(jwt.encode(claims(), key, algorithm="HS512"))
    yield "wrong issuer", bearer(jwt.encode(claims(iss="someone-else"), key, algorithm="HS256"))
    yield "wrong audience", bearer(jwt.encode(claims(aud="elsewhere"), key, algorithm="HS256"))
    yield "not yet valid", bearer(jwt.encode(claims(nbf=now + 3600), key, algorithm="HS256"))
    yield (
        "issued in the future",
        bearer(jwt.encode(claims(iat=now + 3600, exp=now + 7200), key, algorithm="HS256")),
    )
    for claim in ("sub", "kind", "exp", "iss", "aud", "iat"):
        yield f"no {claim}", bearer(jwt.encode(claims(**{claim: None}), key, algorithm="HS256"))
    yield "unknown kind", bearer(jwt.encode(claims(kind="admin"), key, algorithm="HS256"))
    yield "empty subject", bearer(jwt.encode(claims(sub=""), key, algorithm="HS256"))


# What an authentication failure may say: nothing of the token, the key or the library.
AUTH_TEXTS = {"missing bearer token", "invalid bearer token", "expired bearer token"}


async def test_every_rpc_refuses_every_bad_token(services: Clients, signing_key: str) -> None:
    wrong = []
    for rpc in METHODS:
        for label, metadata in bad_tokens(signing_key):
            answer = await call(services, rpc, metadata=metadata)
            if answer.code != grpc.StatusCode.UNAUTHENTICATED or answer.details not in AUTH_TEXTS:
                wrong.append((rpc.name, label, answer.code.name, answer.details))
    assert not wrong


# Roles ----------------------------------------------------------------------------------------


def tokens_by_kind(c: Clients) -> dict[CallerKind, Metadata]:
    return {
        CallerKind.CSM: c.csm,
        CallerKind.CATALOG_EDITOR: c.editor,
        CallerKind.SERVICE: c.service,
        CallerKind.GATEWAY: c.gateway,
    }


async def test_every_rpc_admits_exactly_the_kinds_of_caller_its_policy_names(
    services: Clients,
) -> None:
    wrong = []
    for rpc in METHODS:
        allowed = POLICY[full_name(rpc)]
        for kind, metadata in tokens_by_kind(services).items():
            # An empty request: an admitted caller gets past authorization, to validation at most.
            answer = await call(services, rpc, metadata=metadata)
            refused = answer.code in (
                grpc.StatusCode.UNAUTHENTICATED,
                grpc.StatusCode.PERMISSION_DENIED,
            )
            if kind in allowed and refused:
                wrong.append((rpc.name, kind.value, "refused", answer.details))
            if kind not in allowed and (
                answer.code != grpc.StatusCode.PERMISSION_DENIED
                or "@" in answer.details
                or "customers/" in answer.details
            ):
                wrong.append((rpc.name, kind.value, answer.code.name, answer.details))
    assert not wrong


CATALOG_WRITES = [
    "CreateCourse",
    "UpdateCourse",
    "CancelCourse",
    "CreateTrainingSession",
    "UpdateTrainingSession",
    "CancelTrainingSession",
]


async def test_a_csm_cannot_write_the_catalog_and_an_editor_can(services: Clients) -> None:
    course = await new_course(services)
    session = await new_session(services, course, dt.datetime.now(dt.UTC) + dt.timedelta(days=9))
    requests: dict[str, Message] = {
        "CreateCourse": catalog_pb2.CreateCourseRequest(
            course=catalog_pb2.Course(
                title=f"Hijacked {uuid.uuid4().hex[:6]}",
                topic="Alerting",
                features=["alerts"],
                level=catalog_pb2.SESSION_LEVEL_BEGINNER,
                format=catalog_pb2.SESSION_FORMAT_LIVE_WEBINAR,
                duration=course.duration,
            )
        ),
        "UpdateCourse": catalog_pb2.UpdateCourseRequest(
            course=catalog_pb2.Course(name=course.name, title="Renamed", etag=course.etag),
            update_mask={"paths": ["title"]},
        ),
        "CancelCourse": catalog_pb2.CancelCourseRequest(name=course.name, etag=course.etag),
        "CreateTrainingSession": catalog_pb2.CreateTrainingSessionRequest(
            training_session=catalog_pb2.TrainingSession(
                course=course.name,
                start_time=session.start_time,
                time_zone="Europe/Paris",
                registration_url="https://example.com/register",
            )
        ),
        "UpdateTrainingSession": catalog_pb2.UpdateTrainingSessionRequest(
            training_session=catalog_pb2.TrainingSession(
                name=session.name, capacity=3, etag=session.etag
            ),
            update_mask={"paths": ["capacity"]},
        ),
        "CancelTrainingSession": catalog_pb2.CancelTrainingSessionRequest(
            name=session.name, etag=session.etag, reason="not mine to cancel"
        ),
    }
    for name in CATALOG_WRITES:
        answer = await call(services, method(name), requests[name], services.csm)
        assert answer.code == grpc.StatusCode.PERMISSION_DENIED, (name, answer)
    # Nothing changed: the editor's etags still hold, and the editor may do each write.
    for name in (
        "CreateCourse",
        "CreateTrainingSession",
        "UpdateTrainingSession",
        "CancelTrainingSession",
        "UpdateCourse",
        "CancelCourse",
    ):
        answer = await call(services, method(name), requests[name], services.editor)
        assert answer.code == grpc.StatusCode.OK, (name, answer)
        if name == "UpdateCourse":
            requests["CancelCourse"] = catalog_pb2.CancelCourseRequest(
                name=course.name,
                etag=answer.reply.etag,  # type: ignore[union-attr]
            )
        if name == "UpdateTrainingSession":
            requests["CancelTrainingSession"] = catalog_pb2.CancelTrainingSessionRequest(
                name=session.name,
                etag=answer.reply.etag,  # type: ignore[union-attr]
                reason="moved",
            )


# Another CSM's customers ----------------------------------------------------------------------

OTHER = next(c for c in CUSTOMERS if c.id == "acme")
assert OTHER.csm_email == OTHER_CSM_EMAIL
OTHER_PEOPLE = [p for p in PEOPLE if p.customer_id == OTHER.id]
NOBODY = "zz-no-such-customer"
GHOST_NAME = "Zyxwv Holdings"


@dataclass(frozen=True)
class Probe:
    """One call on another CSM's resource and the same call on one that does not exist."""

    rpc: str
    theirs: Message
    nonexistent: Message
    # The requests' own values (theirs, the nonexistent one's), longest first, replaced before
    # the two answers are compared.
    names: tuple[tuple[str, str], ...]

    @property
    def theirs_names(self) -> tuple[str, ...]:
        return tuple(theirs for theirs, _ in self.names)


def _normalized(text: str, names: tuple[str, ...]) -> str:
    for i, name in enumerate(names):
        text = text.replace(name, f"<{i}>")
    return text


def _forbidden(batches: list[pb.InvitationBatch]) -> set[str]:
    """What Alex must never read about Acme."""
    found = {OTHER.display_name, OTHER.csm_name}
    for p in OTHER_PEOPLE:
        found |= {p.display_name, p.title, *([p.email] if p.email else [])}
    for b in batches:
        for d in b.drafts:
            found |= {d.content.subject, d.recipient.display_name, d.recipient.email}
    return {f for f in found if f}


async def _others_batches(c: Clients) -> tuple[pb.InvitationBatch, pb.InvitationBatch]:
    """Jordan's batches for Acme: one still in review, one approved and handed to delivery."""
    review = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(
            parent=f"customers/{OTHER.id}", training_session=(await analytics_session(c)).name
        ),
        metadata=c.other_csm,
    )
    sent = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(
            parent=f"customers/{OTHER.id}", training_session=(await analytics_session(c)).name
        ),
        metadata=c.other_csm,
    )
    assert review.drafts and sent.drafts
    sent = await c.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=sent.name), metadata=c.other_csm
    )
    return review, sent


def _probes(review: pb.InvitationBatch, sent: pb.InvitationBatch) -> list[Probe]:
    ghost_batch = f"customers/{NOBODY}/invitation-batches/{uuid.uuid4()}"
    ghost_draft = f"{ghost_batch}/drafts/{uuid.uuid4()}"
    draft = review.drafts[0]
    customer = (OTHER.id, NOBODY)
    names = ((draft.name, ghost_draft), (review.name, ghost_batch), customer)

    def probe(rpc: str, theirs: Message, nonexistent: Message) -> Probe:
        return Probe(rpc, theirs, nonexistent, names)

    recipient = sent.drafts[0].recipient.email
    stranger = f"someone-{uuid.uuid4().hex[:8]}@nowhere.example"
    left_out = review.excluded[0].stakeholder.id if review.excluded else "ac-ops"
    content = pb.InvitationDraft(
        name=draft.name, etag=draft.etag, content={"subject": "Changed by someone else"}
    )
    ghost_content = pb.InvitationDraft(
        name=ghost_draft, etag=draft.etag, content={"subject": "Changed by someone else"}
    )
    return [
        probe(
            "GetTrainingGaps",
            pb.GetTrainingGapsRequest(name=f"customers/{OTHER.id}/training-gaps"),
            pb.GetTrainingGapsRequest(name=f"customers/{NOBODY}/training-gaps"),
        ),
        probe(
            "DraftInvitations",
            pb.DraftInvitationsRequest(parent=f"customers/{OTHER.id}", topic="Analytics"),
            pb.DraftInvitationsRequest(parent=f"customers/{NOBODY}", topic="Analytics"),
        ),
        # By the name a CSM types: another CSM's customer is a name nobody has.
        Probe(
            "ResolveCustomer",
            pb.ResolveCustomerRequest(query=OTHER.display_name),
            pb.ResolveCustomerRequest(query=GHOST_NAME),
            ((OTHER.display_name, GHOST_NAME),),
        ),
        Probe(
            "DraftInvitations",
            pb.DraftInvitationsRequest(customer_query=OTHER.display_name, topic="Analytics"),
            pb.DraftInvitationsRequest(customer_query=GHOST_NAME, topic="Analytics"),
            ((OTHER.display_name, GHOST_NAME),),
        ),
        Probe(
            "GetTrainingGaps",
            pb.GetTrainingGapsRequest(customer_query=OTHER.display_name),
            pb.GetTrainingGapsRequest(customer_query=GHOST_NAME),
            ((OTHER.display_name, GHOST_NAME),),
        ),
        probe(
            "ListInvitationBatches",
            pb.ListInvitationBatchesRequest(parent=f"customers/{OTHER.id}"),
            pb.ListInvitationBatchesRequest(parent=f"customers/{NOBODY}"),
        ),
        probe(
            "GetInvitationBatch",
            pb.GetInvitationBatchRequest(name=review.name),
            pb.GetInvitationBatchRequest(name=ghost_batch),
        ),
        probe(
            "UpdateInvitationDraft",
            pb.UpdateInvitationDraftRequest(
                draft=content, update_mask={"paths": ["content.subject"]}
            ),
            pb.UpdateInvitationDraftRequest(
                draft=ghost_content, update_mask={"paths": ["content.subject"]}
            ),
        ),
        probe(
            "DropInvitationDraft",
            pb.DropInvitationDraftRequest(name=draft.name, etag=draft.etag),
            pb.DropInvitationDraftRequest(name=ghost_draft, etag=draft.etag),
        ),
        probe(
            "AddInvitationRecipient",
            pb.AddInvitationRecipientRequest(batch=review.name, stakeholder=left_out),
            pb.AddInvitationRecipientRequest(batch=ghost_batch, stakeholder=left_out),
        ),
        probe(
            "RenderInvitationDraft",
            pb.RenderInvitationDraftRequest(name=draft.name, etag=draft.etag),
            pb.RenderInvitationDraftRequest(name=ghost_draft, etag=draft.etag),
        ),
        probe(
            "ApproveInvitationBatch",
            pb.ApproveInvitationBatchRequest(name=review.name),
            pb.ApproveInvitationBatchRequest(name=ghost_batch),
        ),
        *(
            Probe(
                rpc,
                request_type(name=f"{batch.name}/delivery-status"),
                request_type(name=f"{ghost_batch}/delivery-status"),
                ((batch.name, ghost_batch), customer),
            )
            for rpc, request_type in (
                ("GetBatchDeliveryStatus", dpb.GetBatchDeliveryStatusRequest),
                ("PauseBatchDelivery", dpb.PauseBatchDeliveryRequest),
                ("ResumeBatchDelivery", dpb.ResumeBatchDeliveryRequest),
                ("CancelBatchDelivery", dpb.CancelBatchDeliveryRequest),
            )
            for batch in (review, sent)
        ),
        Probe(
            "Unsubscribe",
            dpb.UnsubscribeRequest(email=recipient),
            dpb.UnsubscribeRequest(email=stranger),
            ((recipient, stranger),),
        ),
        Probe(
            "UpdateSenderControl",
            dpb.UpdateSenderControlRequest(
                sender_control=dpb.SenderControl(name=f"senders/{OTHER_CSM_EMAIL}", paused=True)
            ),
            dpb.UpdateSenderControlRequest(
                sender_control=dpb.SenderControl(name=f"senders/{stranger}", paused=True)
            ),
            ((OTHER_CSM_EMAIL, stranger),),
        ),
    ]


async def test_another_csms_resources_answer_like_nonexistent_ones(services: Clients) -> None:
    review, sent = await _others_batches(services)
    forbidden = _forbidden([review, sent])
    for p in _probes(review, sent):
        rpc = method(p.rpc)
        theirs = await call(services, rpc, p.theirs, services.csm)
        ghost = await call(services, rpc, p.nonexistent, services.csm)
        assert theirs.code in (
            grpc.StatusCode.NOT_FOUND,
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.OK,
        ), (p.rpc, theirs)
        assert (theirs.code, _normalized(theirs.text, p.theirs_names)) == (
            ghost.code,
            _normalized(ghost.text, tuple(nonexistent for _, nonexistent in p.names)),
        ), p.rpc
        leaked = {f for f in forbidden if f in theirs.text and f not in p.theirs_names}
        assert not leaked, (p.rpc, leaked)

    # And nothing happened to Jordan's batch, drafts or recipients.
    still = await services.personalizer.GetInvitationBatch(
        pb.GetInvitationBatchRequest(name=review.name), metadata=services.other_csm
    )
    assert [(d.name, d.etag, d.state) for d in still.drafts] == [
        (d.name, d.etag, d.state) for d in review.drafts
    ]
    status = await services.dispatcher.GetBatchDeliveryStatus(
        dpb.GetBatchDeliveryStatusRequest(name=f"{sent.name}/delivery-status"),
        metadata=services.other_csm,
    )
    assert not status.paused and status.cancelled_count == 0 and status.suppressed_count == 0


# Both of Jordan's batches are approved and sent, one right after the other, to the same people.
@pytest.mark.personalizer_settings(frequency_cap_days=0)
@pytest.mark.dispatcher_settings(frequency_cap_days=0)
async def test_a_csm_cannot_hold_another_csms_batch_before_it_is_approved(
    services: Clients,
) -> None:
    review, _ = await _others_batches(services)
    status_name = f"{review.name}/delivery-status"
    answer = await call(
        services,
        method("PauseBatchDelivery"),
        dpb.PauseBatchDeliveryRequest(name=status_name),
        services.csm,
    )
    assert answer.code == grpc.StatusCode.NOT_FOUND, answer
    approved = await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=review.name), metadata=services.other_csm
    )

    async def all_sent() -> dpb.BatchDeliveryStatus | NotYet:
        status = await services.dispatcher.GetBatchDeliveryStatus(
            dpb.GetBatchDeliveryStatusRequest(name=status_name), metadata=services.other_csm
        )
        return status if status.sent_count == len(approved.drafts) else NotYet(status)

    status = await wait_for(all_sent, "every invitation of Jordan's batch sent", timeout=15)
    assert not status.paused


# The recipient is drafted again right after the invitation: only a suppression may leave them
# out.
@pytest.mark.personalizer_settings(frequency_cap_days=0)
async def test_unsubscribe_by_address_only_for_the_csm_who_invited_it(services: Clients) -> None:
    _, sent = await _others_batches(services)
    recipient = sent.drafts[0].recipient.email
    unsubscribe = method("Unsubscribe")
    request = dpb.UnsubscribeRequest(email=recipient, reason="not asked by them")
    assert (await call(services, unsubscribe, request, services.csm)).code == (
        grpc.StatusCode.NOT_FOUND
    )
    # The gateway speaks for an invitee only with the link's signed token.
    assert (await call(services, unsubscribe, request, services.gateway)).code == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    # Nothing was suppressed: Jordan can still add the person to a new batch's drafts.
    again = await services.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(
            parent=f"customers/{OTHER.id}",
            training_session=(await analytics_session(services)).name,
        ),
        metadata=services.other_csm,
    )
    assert recipient in {d.recipient.email for d in again.drafts}
