"""Gap analysis: each person's adoption against role peers, and what training would close."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from services.common.attendance import (
    AttendanceFact,
    ensure_possible_now,
    registration_transition,
)
from services.common.auth import Principal
from services.common.errors import InvalidArgument
from services.personalizer.domain import names
from services.personalizer.domain.gaps import FeatureAdoption, Usage, classify
from services.personalizer.domain.model import (
    Customer,
    SessionInfo,
    Stakeholder,
    TrainingRecord,
)
from services.personalizer.service_layer.customers import customer_for
from services.personalizer.service_layer.dependencies import Dependencies
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StakeholderAdoption:
    stakeholder: Stakeholder
    adoption: list[FeatureAdoption]


@dataclass(frozen=True)
class FeatureGap:
    feature: str
    display_name: str
    stakeholders: list[str]
    gap_share: float
    sessions: list[SessionInfo]


@dataclass(frozen=True)
class TrainingGaps:
    customer: Customer
    window_days: int
    stakeholders: list[StakeholderAdoption]
    feature_gaps: list[FeatureGap]
    benchmarks_time: dt.datetime | None


def trained_on(records: list[TrainingRecord], since: dt.datetime) -> dict[tuple[str, str], str]:
    """(stakeholder, feature) -> the course attended on it since `since`."""
    trained: dict[tuple[str, str], str] = {}
    for r in records:
        if r.state == "attended" and r.session_start >= since:
            for feature in r.features:
                trained[(r.stakeholder_id, feature)] = r.course_title
    return trained


async def adoption_of(
    deps: Dependencies,
    uow: PersonalizerUnitOfWork,
    customer: Customer,
    people: list[Stakeholder],
    window_days: int,
    features: list[str] | None = None,
) -> dict[str, dict[str, FeatureAdoption]]:
    """stakeholder id -> feature -> adoption, for the customer's entitled features (or those
    given), against the precomputed role benchmarks; attended training counts."""
    now = deps.clock()
    since = now.date() - dt.timedelta(days=window_days - 1)
    keys = sorted(customer.entitlements if features is None else set(features))
    ids = [p.id for p in people]
    usage = await uow.platform.usage(ids, keys, since)
    benchmarks = await uow.benchmarks.for_roles(window_days, sorted({p.role for p in people}), keys)
    history = await uow.history.for_people(ids)
    trained = trained_on(history, now - dt.timedelta(days=deps.policy.training_counts_days))
    return {
        p.id: {
            f: classify(
                f,
                usage.get((p.id, f), Usage()),
                benchmarks.get((p.role, f)),
                window_days,
                trained.get((p.id, f), ""),
            )
            for f in keys
        }
        for p in people
    }


async def get_training_gaps(
    deps: Dependencies, name: str, window_days: int, principal: Principal
) -> TrainingGaps:
    """Every stakeholder's adoption of every entitled feature against role peers, and the
    features with the widest gaps with the sessions that close them."""
    customer_id = names.gaps_customer_id(name)
    window = window_days or deps.policy.default_window_days
    if window not in deps.policy.benchmark_windows:
        raise InvalidArgument.single(
            "window_days", f"must be one of {list(deps.policy.benchmark_windows)} (or 0)"
        )
    async with deps.uow() as uow:
        customer = await customer_for(uow, customer_id, principal)
        people = await uow.platform.stakeholders(customer_id)
        adoption = await adoption_of(deps, uow, customer, people, window)
        computed = await uow.benchmarks.computed_at(window)

    with_gap: dict[str, list[str]] = {}
    for p in people:
        for a in adoption[p.id].values():
            if a.gap:
                with_gap.setdefault(a.feature, []).append(p.id)
    widest = sorted(with_gap.items(), key=lambda item: (-len(item[1]), item[0]))[:5]
    # One catalog question per feature, asked together.
    sessions = await asyncio.gather(
        *(deps.catalog.upcoming(feature=feature, limit=3) for feature, _ in widest)
    )
    feature_gaps = [
        FeatureGap(
            feature=feature,
            display_name=customer.feature_name(feature),
            stakeholders=ids,
            gap_share=round(len(ids) / len(people), 3),
            sessions=found,
        )
        for (feature, ids), found in zip(widest, sessions, strict=True)
    ]
    return TrainingGaps(
        customer,
        window,
        [StakeholderAdoption(p, list(adoption[p.id].values())) for p in people],
        feature_gaps,
        computed,
    )


async def refresh_benchmarks(deps: Dependencies) -> None:
    """Recompute the role benchmarks of every window from the platform's usage."""
    now = deps.clock()
    for window in deps.policy.benchmark_windows:
        async with deps.uow() as uow:
            if await uow.benchmarks.refresh(window, now.date(), now):
                await uow.commit()
    _log.info("role benchmarks refreshed", extra={"windows": list(deps.policy.benchmark_windows)})


async def benchmarks_missing(deps: Dependencies) -> bool:
    async with deps.uow() as uow:
        return await uow.benchmarks.computed_at(deps.policy.default_window_days) is None


async def record_attendance(deps: Dependencies, fact: AttendanceFact) -> bool:
    """Keep a registration or attendance in the history of every stakeholder with the address;
    False when the event was applied before."""
    session = await deps.catalog.get(fact.training_session, allow_cancelled=True)
    # A fact that cannot be true yet would close the person's gaps ahead of time.
    ensure_possible_now(fact.kind, session.start_time, deps.clock())
    async with deps.uow() as uow:
        if not await uow.first_time(fact.event_id):
            return False
        for stakeholder_id in await uow.platform.stakeholder_ids_by_email(fact.email):
            current = await uow.history.state(stakeholder_id, session.name)
            target = registration_transition(current, fact.kind)
            if target is not None:
                await uow.history.put(
                    TrainingRecord(
                        stakeholder_id,
                        session.name,
                        session.course,
                        session.title,
                        session.features,
                        target,
                        session.start_time,
                    )
                )
        await uow.commit()
    return True
