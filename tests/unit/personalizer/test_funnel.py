"""The invitation funnel on a small data set worked out by hand, intervals included."""

from __future__ import annotations

import datetime as dt

import pytest

from services.common.errors import NotFound, PermissionDenied
from services.personalizer.domain.funnel import (
    Dimension,
    FunnelRow,
    Invitation,
    funnel,
    wilson_interval,
)
from services.personalizer.service_layer import drafting, review
from services.personalizer.service_layer import funnel as funnel_use_case
from tests.unit.personalizer.world import CSM, DASHBOARDS, OTHER_CSM, world

# Monday 11 January 2027, 15:00 UTC: 10:00 in New York, midnight (Tuesday) in Tokyo.
MONDAY_15_UTC = dt.datetime(2027, 1, 11, 15, tzinfo=dt.UTC)
SESSION = MONDAY_15_UTC + dt.timedelta(days=5)


@pytest.mark.parametrize(
    ("successes", "trials", "lower", "upper"),
    [
        # Published values of the 95% Wilson score interval.
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 100, 0.0552, 0.1744),
        (1, 2, 0.0945, 0.9055),
        (10, 10, 0.7225, 1.0),
        (0, 0, 0.0, 1.0),
    ],
)
def test_the_wilson_interval(successes: int, trials: int, lower: float, upper: float) -> None:
    low, high = wilson_interval(successes, trials)
    assert (round(low, 4), round(high, 4)) == (lower, upper)


def invitation(
    angle: str,
    *,
    approved: bool = True,
    sent_at: dt.datetime | None = MONDAY_15_UTC,
    registration: str = "",
    zone: str = "America/New_York",
    sent: bool | None = None,
) -> Invitation:
    return Invitation(
        angle=angle,
        role="data_analyst",
        template_version="",
        time_zone=zone,
        session_start=SESSION,
        approved=approved,
        sent=sent_at is not None if sent is None else sent,
        sent_at=sent_at,
        registration=registration,
    )


# Six invitations: close_gap drafted 4 (one dropped, one approved but bounced), go_deeper 2.
DATA = [
    invitation("close_gap", registration="attended"),
    invitation("close_gap", registration="no_show", zone="Asia/Tokyo"),
    invitation("close_gap", sent_at=None),  # approved, the send failed
    invitation("close_gap", approved=False, sent_at=None),  # dropped in review
    invitation("go_deeper", registration="cancelled", sent_at=MONDAY_15_UTC - dt.timedelta(9)),
    invitation("go_deeper", sent_at=None, sent=True),  # sent before send times were kept
]


def counts(row: FunnelRow) -> tuple[str, int, int, int, int, int]:
    return (row.key, row.drafted, row.approved, row.sent, row.registered, row.attended)


def test_by_angle_with_rates_and_intervals() -> None:
    f = funnel(DATA, Dimension.ANGLE)
    assert [counts(r) for r in f.rows] == [
        ("close_gap", 4, 3, 2, 2, 1),
        ("go_deeper", 2, 2, 2, 0, 0),
    ]
    assert counts(f.total) == ("all", 6, 5, 4, 2, 1)
    close_gap = f.rows[0]
    assert (close_gap.approval.value, close_gap.delivery.value) == (0.75, 2 / 3)
    assert close_gap.registration.value == 1.0
    assert close_gap.attendance.value == 0.5
    # 1 of 2 registered attended: the interval of 1/2 above.
    assert tuple(round(x, 4) for x in close_gap.attendance.interval) == (0.0945, 0.9055)
    assert close_gap.attendance.too_little_data
    assert f.rows[1].attendance.trials == 0 and f.rows[1].attendance.value == 0.0


def test_by_weekday_and_hour_in_the_recipients_zone() -> None:
    by_day = funnel(DATA, Dimension.SEND_WEEKDAY)
    assert [counts(r) for r in by_day.rows] == [
        ("Monday", 1, 1, 1, 1, 1),  # 10:00 in New York
        ("Tuesday", 1, 1, 1, 1, 0),  # midnight in Tokyo
        ("Saturday", 1, 1, 1, 0, 0),  # nine days earlier, 10:00 Saturday in New York
        ("send time unknown", 1, 1, 1, 0, 0),
        ("not sent", 2, 1, 0, 0, 0),
    ]
    by_hour = funnel(DATA, Dimension.SEND_HOUR)
    assert [r.key for r in by_hour.rows] == ["00", "10", "send time unknown", "not sent"]
    assert counts(by_hour.rows[1]) == ("10", 2, 2, 2, 1, 1)


def test_by_lead_time_before_the_session() -> None:
    rows = funnel(DATA, Dimension.LEAD_TIME).rows
    assert [counts(r) for r in rows] == [
        ("3-7 days", 2, 2, 2, 2, 1),
        ("2-4 weeks", 1, 1, 1, 0, 0),  # fourteen days exactly: buckets hold their start
        ("send time unknown", 1, 1, 1, 0, 0),
        ("not sent", 2, 1, 0, 0, 0),
    ]


def test_without_a_dimension_only_the_total() -> None:
    f = funnel(DATA, Dimension.NONE)
    assert f.rows == [] and counts(f.total) == ("all", 6, 5, 4, 2, 1)


async def test_a_csm_reads_their_own_customers_and_their_own_invitations_only() -> None:
    p = world()
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    await review.approve_batch(p.deps, batch.name, batch.etag, [], CSM)
    mine = await funnel_use_case.invitation_funnel(
        p.deps, "customers/cloudtech", Dimension.ANGLE, None, None, CSM
    )
    assert mine.total.drafted == len(batch.drafts) == mine.total.approved
    by_csm = await funnel_use_case.invitation_funnel(
        p.deps, f"csms/{CSM.subject.upper()}", Dimension.NONE, None, None, CSM
    )
    assert by_csm.total == mine.total
    everyone = await funnel_use_case.invitation_funnel(
        p.deps, "", Dimension.NONE, None, None, OTHER_CSM
    )
    assert everyone.total == mine.total
    with pytest.raises(NotFound):
        await funnel_use_case.invitation_funnel(
            p.deps, "customers/cloudtech", Dimension.ANGLE, None, None, OTHER_CSM
        )
    with pytest.raises(PermissionDenied):
        await funnel_use_case.invitation_funnel(
            p.deps, f"csms/{CSM.subject}", Dimension.NONE, None, None, OTHER_CSM
        )
