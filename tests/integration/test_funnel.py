"""The invitation funnel through the services: a batch drafted, approved and sent, one person
registered through their link, read back by angle with counts, rates and Wilson intervals."""

from __future__ import annotations

import grpc
import pytest
from trainvite.catalog.v1 import catalog_pb2
from trainvite.common.v1 import common_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.platform.seed import CSM_EMAIL
from tests.helpers import Clients, batch_when
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: the funnel counts every invitation of the customer."""
    return fresh_database_url


async def _funnel(
    c: Clients, group_by: pb.FunnelDimension, scope: str = "customers/cloudtech"
) -> pb.InvitationFunnel:
    return await c.personalizer.GetInvitationFunnel(
        pb.GetInvitationFunnelRequest(scope=scope, group_by=group_by), metadata=c.csm
    )


async def test_a_sent_batch_and_one_registration_read_as_a_funnel(services: Clients) -> None:
    c = services
    drafted = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/cloudtech", topic="Advanced Analytics"),
        metadata=c.csm,
    )
    assert len(drafted.drafts) == 3
    await c.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=drafted.name), metadata=c.csm
    )
    sent = await batch_when(
        c,
        drafted.name,
        lambda d: d.delivery_state == common_pb2.DELIVERY_STATE_SENT,
        "every invitation sent",
    )
    # Nothing was sent before: the rules chose each angle, and each draft says so.
    assert {d.angle_reason.split(":")[0] for d in sent.drafts} == {"Angle chosen by the rules"}
    sarah = next(d for d in sent.drafts if d.recipient.display_name == "Sarah Chen")
    await c.catalog.RegisterForSession(
        catalog_pb2.RegisterForSessionRequest(
            training_session=sent.training_session.name,
            email=sarah.recipient.email,
            invitation=sarah.name,
        ),
        metadata=c.service,
    )

    async def registered() -> pb.InvitationFunnel | NotYet:
        found = await _funnel(c, pb.FUNNEL_DIMENSION_ANGLE)
        return found if found.total.registered == 1 else NotYet(found.total)

    by_angle = await wait_for(registered, "Sarah's registration in the funnel", timeout=15)
    rows = {r.key: (r.drafted, r.approved, r.sent, r.registered, r.attended) for r in by_angle.rows}
    assert rows == {
        "close_gap": (1, 1, 1, 1, 0),  # Sarah's angle
        "go_deeper": (1, 1, 1, 0, 0),
        "lead_adoption": (1, 1, 1, 0, 0),
    }
    total = by_angle.total
    assert (total.drafted, total.approved, total.sent, total.registered) == (3, 3, 3, 1)
    # 1 registered of 3 sent: 33%, Wilson 95% from 6.15% to 79.23%, too little data to say.
    r = total.registration
    assert (r.successes, r.trials, round(r.rate, 4)) == (1, 3, 0.3333)
    assert (round(r.lower, 4), round(r.upper, 4), r.too_little_data) == (0.0615, 0.7923, True)

    # Sent at one moment: each recipient's own weekday and hour, none "not sent".
    by_hour = await _funnel(c, pb.FUNNEL_DIMENSION_SEND_HOUR)
    assert sum(row.sent for row in by_hour.rows) == 3
    assert all(row.key.isdigit() and len(row.key) == 2 for row in by_hour.rows)
    by_version = await _funnel(c, pb.FUNNEL_DIMENSION_TEMPLATE_VERSION)
    assert len(by_version.rows) == 3 and all(len(row.key) == 12 for row in by_version.rows)

    # The caller's own invitations and everyone's agree here; another CSM's are not theirs.
    mine = await _funnel(c, pb.FUNNEL_DIMENSION_UNSPECIFIED, scope=f"csms/{CSM_EMAIL}")
    assert mine.total == total and not mine.rows
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await c.personalizer.GetInvitationFunnel(
            pb.GetInvitationFunnelRequest(scope="customers/cloudtech"), metadata=c.other_csm
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
