"""The personalizer's reads on fakes: training gaps against role peers, benchmarks, and a
customer's batches page by page."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from services.common.errors import InvalidArgument, NotFound
from services.personalizer.domain.gaps import RoleBenchmark
from services.personalizer.domain.model import AdoptionLevel, BatchState
from services.personalizer.service_layer import drafting, gaps, review
from tests.unit.personalizer.world import (
    ANA,
    BEN,
    CSM,
    DASHBOARDS,
    DASHBOARDS_AGAIN,
    LOU,
    NOW,
    OTHER_CSM,
    world,
)

GAPS = "customers/cloudtech/training-gaps"


async def test_gaps_rank_people_against_role_peers_with_the_sessions_that_close_them() -> None:
    p = world()
    p.store.benchmarks[(LOU.role, "dashboards")] = RoleBenchmark(
        median_active_days=4, p75_active_days=8, median_events=40, peers=12
    )
    found = await gaps.get_training_gaps(p.deps, GAPS, 0, CSM)

    assert found.window_days == p.deps.policy.default_window_days
    level = {s.stakeholder.id: {a.feature: a.level for a in s.adoption} for s in found.stakeholders}
    # Lou's 20 active days are five times the median of his role: a power user.
    assert level[LOU.id]["dashboards"] is AdoptionLevel.POWER
    assert level[ANA.id] == {"dashboards": AdoptionLevel.NONE, "sharing": AdoptionLevel.NONE}
    # Nobody shares yet: the widest gap; dashboards next, without Lou.
    assert [g.feature for g in found.feature_gaps] == ["sharing", "dashboards"]
    dashboards = found.feature_gaps[1]
    assert dashboards.display_name == "Custom dashboards"
    assert ANA.id in dashboards.stakeholders and LOU.id not in dashboards.stakeholders
    assert [s.name for s in dashboards.sessions] == [DASHBOARDS.name, DASHBOARDS_AGAIN.name]


async def test_gaps_take_only_the_precomputed_windows_and_only_the_callers_customers() -> None:
    p = world()
    with pytest.raises(InvalidArgument) as refused:
        await gaps.get_training_gaps(p.deps, GAPS, 45, CSM)
    assert refused.value.violations[0].field == "window_days"
    with pytest.raises(NotFound):
        await gaps.get_training_gaps(p.deps, GAPS, 30, OTHER_CSM)


async def test_benchmarks_are_missing_until_the_first_refresh() -> None:
    p = world()
    assert await gaps.benchmarks_missing(p.deps)
    await gaps.refresh_benchmarks(p.deps)
    assert not await gaps.benchmarks_missing(p.deps)
    assert p.store.benchmarks_computed_at == NOW


async def test_a_customers_batches_come_newest_first_a_page_at_a_time() -> None:
    p = world()
    first = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    p.deps = dataclasses.replace(p.deps, clock=lambda: NOW + dt.timedelta(minutes=1))
    second = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS_AGAIN.name, "", "", CSM
    )
    await review.approve_batch(p.deps, second.name, second.etag, [], CSM)

    page = await review.list_batches(p.deps, "customers/cloudtech", 1, "", False, CSM)
    assert [b.id for b in page.batches] == [second.id] and page.next_page_token
    rest = await review.list_batches(
        p.deps, "customers/cloudtech", 1, page.next_page_token, False, CSM
    )
    assert [b.id for b in rest.batches] == [first.id] and not rest.next_page_token
    pending = await review.list_batches(p.deps, "customers/cloudtech", 10, "", True, CSM)
    assert [b.id for b in pending.batches] == [first.id]

    got = await review.get_batch(p.deps, second.name, CSM)
    assert got.state is BatchState.APPROVED
    assert {d.recipient.stakeholder_id for d in got.drafts} == {ANA.id, BEN.id}


async def test_another_csms_batches_read_as_nonexistent() -> None:
    p = world()
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    with pytest.raises(NotFound):
        await review.get_batch(p.deps, batch.name, OTHER_CSM)
    with pytest.raises(NotFound):
        await review.list_batches(p.deps, "customers/cloudtech", 10, "", False, OTHER_CSM)
    with pytest.raises(NotFound):
        await review.get_batch(
            p.deps, batch.name.replace(str(batch.id), "0" * 8 + str(batch.id)[8:]), CSM
        )
