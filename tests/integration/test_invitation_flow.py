"""The chat flow through the three services: draft, review, approve, send, outcome shown."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common import registration_links
from tests.helpers import Clients, batch_when
from tests.mail_checks import check_raw_message

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: its tests invite the same people, and a delivery still pending when
    one ends would land in the next test's outbox."""
    return fresh_database_url


async def _draft(c: Clients, topic: str = "Advanced Analytics") -> pb.InvitationBatch:
    return await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/cloudtech", topic=topic), metadata=c.csm
    )


async def _wait_for_sent(c: Clients, batch: pb.InvitationBatch) -> pb.InvitationBatch:
    return await batch_when(
        c,
        batch.name,
        lambda d: d.delivery_state == common_pb2.DELIVERY_STATE_SENT,
        f"every invitation of {batch.name} sent",
    )


async def test_drafts_pick_the_prd_team_with_reasons_and_leave_out_the_rest(
    services: Clients, signing_key: str
) -> None:
    batch = await _draft(services)

    assert batch.training_session.title == "Advanced Analytics & Custom Dashboards"
    by_name = {d.recipient.display_name: d for d in batch.drafts}
    assert set(by_name) == {"Sarah Chen", "Mike Johnson", "Lisa Park"}
    assert by_name["Sarah Chen"].angle == common_pb2.PERSONALIZATION_ANGLE_CLOSE_GAP
    assert by_name["Mike Johnson"].angle == common_pb2.PERSONALIZATION_ANGLE_GO_DEEPER
    assert by_name["Lisa Park"].angle == common_pb2.PERSONALIZATION_ANGLE_LEAD_ADOPTION
    assert len({d.content.subject for d in batch.drafts}) == 3
    assert len({tuple(d.talking_points) for d in batch.drafts}) == 3
    sarah_points = " ".join(by_name["Sarah Chen"].talking_points)
    assert "dashboards" in sarah_points and "report scheduling" in sarah_points
    assert by_name["Sarah Chen"].content.subject == "Unlock Custom Dashboards - Training on Feb 4"
    assert "monthly reporting" in by_name["Sarah Chen"].content.text_body  # her role's benefit
    # The power user hears of the advanced parts first.
    assert by_name["Mike Johnson"].talking_points[0].startswith("Calculated fields")
    assert by_name["Lisa Park"].talking_points[0].startswith("Tips for sharing")
    for d in batch.drafts:
        assert {r.factor for r in d.reasons} == {"role_fit", "need", "level_fit"}
        assert d.state == pb.DRAFT_STATE_PENDING_REVIEW
        # The link's signed token names the draft, the session and the person.
        claims = registration_links.verify(
            registration_links.link_keys(None, signing_key), d.registration_url.split("/r/")[1]
        )
        assert (claims.invitation, claims.email) == (d.name, d.recipient.email)
        assert claims.training_session == batch.training_session.name
    excluded = {e.stakeholder.display_name: e.reason for e in batch.excluded}
    assert excluded["Tom Becker"] == pb.EXCLUSION_REASON_OPTED_OUT
    assert excluded["Priya Nair"] == pb.EXCLUSION_REASON_LOW_FIT
    # Each person sees the time in their own zone.
    assert "2:00 PM EST (America/New_York)" in by_name["Sarah Chen"].content.text_body
    assert "11:00 AM PST (America/Los_Angeles)" in by_name["Mike Johnson"].content.text_body
    assert "7:00 PM GMT (Europe/London)" in by_name["Lisa Park"].content.text_body


async def test_send_all_delivers_each_approved_invitation_once(
    services: Clients, outbox_dir: Path
) -> None:
    batch = await services.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/northwind", topic="Advanced Analytics"),
        metadata=services.csm,
    )
    approved = await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name, etag=batch.etag), metadata=services.csm
    )
    assert approved.state == pb.BATCH_STATE_APPROVED
    assert approved.approved_by == "alex.rivera@trainvite.dev"
    assert approved.drafts and all(len(d.content_sha256) == 64 for d in approved.drafts)

    # Approving again changes nothing and sends nothing more.
    again = await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name), metadata=services.csm
    )
    assert again.approve_time == approved.approve_time

    sent = await _wait_for_sent(services, batch)
    status = await services.dispatcher.GetBatchDeliveryStatus(
        dispatcher_pb2.GetBatchDeliveryStatusRequest(name=f"{batch.name}/delivery-status"),
        metadata=services.csm,
    )
    assert status.sent_count == len(sent.drafts) == len(status.deliveries)
    messages = [check_raw_message(p.read_bytes()) for p in outbox_dir.glob("*.eml")]
    recipients = sorted(str(m["To"].addresses[0].addr_spec) for m in messages)
    assert recipients == sorted(d.recipient.email for d in sent.drafts)
    for m in messages:
        assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_edit_needs_the_current_etag_and_approval_sends_the_edit(
    services: Clients, outbox_dir: Path
) -> None:
    batch = await _draft(services)
    draft = batch.drafts[0]
    edit = pb.InvitationDraft(name=draft.name, etag=draft.etag)
    edit.content.subject = "A session picked for you, Sarah"
    updated = await services.personalizer.UpdateInvitationDraft(
        pb.UpdateInvitationDraftRequest(
            draft=edit, update_mask=FieldMask(paths=["content.subject"])
        ),
        metadata=services.csm,
    )
    assert updated.content.subject == "A session picked for you, Sarah"
    assert updated.content.text_body == draft.content.text_body
    assert updated.updated_by == "alex.rivera@trainvite.dev"

    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await services.personalizer.UpdateInvitationDraft(
            pb.UpdateInvitationDraftRequest(
                draft=edit, update_mask=FieldMask(paths=["content.subject"])
            ),
            metadata=services.csm,
        )
    assert stale.value.code() == grpc.StatusCode.ABORTED

    with pytest.raises(grpc.aio.AioRpcError) as stale_batch:
        await services.personalizer.ApproveInvitationBatch(
            pb.ApproveInvitationBatchRequest(name=batch.name, etag=batch.etag),
            metadata=services.csm,
        )
    assert stale_batch.value.code() == grpc.StatusCode.ABORTED

    current = await services.personalizer.GetInvitationBatch(
        pb.GetInvitationBatchRequest(name=batch.name), metadata=services.csm
    )
    await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name, etag=current.etag), metadata=services.csm
    )
    await _wait_for_sent(services, batch)
    subjects = {str(check_raw_message(p.read_bytes())["Subject"]) for p in outbox_dir.glob("*.eml")}
    assert "A session picked for you, Sarah" in subjects


async def test_a_person_already_invited_to_the_session_is_left_out(services: Clients) -> None:
    first = await services.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/cloudtech", topic="Workflow Automation"),
        metadata=services.csm,
    )
    assert first.drafts, "someone at CloudTech fits the automation session"
    await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=first.name), metadata=services.csm
    )
    second = await services.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/cloudtech", topic="Workflow Automation"),
        metadata=services.csm,
    )
    reasons = {e.stakeholder.id: e.reason for e in second.excluded}
    for d in first.drafts:
        assert reasons[d.recipient.id] == pb.EXCLUSION_REASON_ALREADY_INVITED
    assert not second.drafts


async def test_a_retried_draft_request_returns_the_first_batch(services: Clients) -> None:
    request = pb.DraftInvitationsRequest(
        parent="customers/cloudtech", topic="Advanced Analytics", request_id=str(uuid.uuid4())
    )
    first = await services.personalizer.DraftInvitations(request, metadata=services.csm)
    second = await services.personalizer.DraftInvitations(request, metadata=services.csm)
    assert first.name == second.name


async def test_training_gaps_compare_each_person_with_role_peers(services: Clients) -> None:
    gaps = await services.personalizer.GetTrainingGaps(
        pb.GetTrainingGapsRequest(name="customers/cloudtech/training-gaps"), metadata=services.csm
    )
    people = {s.stakeholder.display_name: s for s in gaps.stakeholders}
    sarah = {a.feature: a for a in people["Sarah Chen"].adoption}
    mike = {a.feature: a for a in people["Mike Johnson"].adoption}
    assert sarah["dashboards"].level == common_pb2.ADOPTION_LEVEL_LOW and sarah["dashboards"].gap
    assert mike["dashboards"].level == common_pb2.ADOPTION_LEVEL_POWER
    assert "role median" in sarah["dashboards"].explanation
    # Features CloudTech is not entitled to are never listed, so never a gap.
    assert "api" not in sarah and "admin_console" not in sarah
