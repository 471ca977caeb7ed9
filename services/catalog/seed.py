"""Idempotent demo sessions: the PRD's Advanced Analytics session and a few others.

Each is created with a fixed request id, so running the seed again creates nothing new.
The PRD's session (February 5, 2026) is kept as written; its course runs again on February 4,
2027, so that a demo run after the PRD's date still finds an upcoming session.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from services.catalog.domain.model import Format, LearningOutcome, Level, TrainingSession
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork

_NY = "America/New_York"

ADVANCED_ANALYTICS_OUTCOMES = (
    LearningOutcome("dashboards", "How to build custom dashboards tailored to your KPIs"),
    LearningOutcome("report_scheduling", "Automated report scheduling (no more manual exports!)"),
    LearningOutcome("sharing", "Tips for sharing insights across your organization"),
    LearningOutcome("dashboards", "Calculated fields and drill-downs for deeper analysis"),
)


def _at(year: int, month: int, day: int, hour: int, minute: int, zone: str) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def _advanced_analytics(start: dt.datetime) -> TrainingSession:
    return TrainingSession(
        id=uuid.UUID(int=0),
        title="Advanced Analytics & Custom Dashboards",
        topic="Advanced Analytics",
        description=(
            "Build custom dashboards for your KPIs, schedule reports instead of exporting by "
            "hand, and share insights across your organization. Live webinar with Q&A."
        ),
        features=("dashboards", "report_scheduling", "sharing"),
        level=Level.ADVANCED,
        target_roles=("operations_leader", "data_analyst", "team_lead"),
        format=Format.LIVE_WEBINAR,
        start_time=start,
        time_zone=_NY,
        duration=dt.timedelta(minutes=90),
        capacity=100,
        join_url="https://training.trainvite.dev/live/advanced-analytics",
        registration_url="https://training.trainvite.dev/register/advanced-analytics",
        presenter="Nina Alvarez, Solutions Engineer",
        learning_outcomes=ADVANCED_ANALYTICS_OUTCOMES,
    )


def demo_sessions() -> list[tuple[str, TrainingSession]]:
    """(request id, session) for every demo session."""
    return [
        ("seed:advanced-analytics:2026-02-05", _advanced_analytics(_at(2026, 2, 5, 14, 0, _NY))),
        ("seed:advanced-analytics:2027-02-04", _advanced_analytics(_at(2027, 2, 4, 14, 0, _NY))),
        (
            "seed:dashboards-fundamentals:2027-01-14",
            TrainingSession(
                id=uuid.UUID(int=0),
                title="Dashboards Fundamentals",
                topic="Dashboards",
                description="Your first dashboards and reports, step by step.",
                features=("dashboards", "report_scheduling"),
                level=Level.BEGINNER,
                target_roles=(),
                format=Format.LIVE_WEBINAR,
                start_time=_at(2027, 1, 14, 11, 0, _NY),
                time_zone=_NY,
                duration=dt.timedelta(minutes=60),
                capacity=200,
                join_url="https://training.trainvite.dev/live/dashboards-fundamentals",
                registration_url="https://training.trainvite.dev/register/dashboards-fundamentals",
                presenter="Nina Alvarez, Solutions Engineer",
                learning_outcomes=(
                    LearningOutcome("dashboards", "Build a dashboard from a template in minutes"),
                    LearningOutcome("report_scheduling", "Send a weekly report automatically"),
                ),
            ),
        ),
        (
            "seed:workflow-automation:2027-01-21",
            TrainingSession(
                id=uuid.UUID(int=0),
                title="Workflow Automation Essentials",
                topic="Automation",
                description="Automate hand-offs, alerts and approvals with workflows.",
                features=("automations", "alerts"),
                level=Level.INTERMEDIATE,
                target_roles=("operations_leader", "team_lead", "it_admin"),
                format=Format.LIVE_WEBINAR,
                start_time=_at(2027, 1, 21, 10, 0, "Europe/London"),
                time_zone="Europe/London",
                duration=dt.timedelta(minutes=75),
                capacity=150,
                join_url="https://training.trainvite.dev/live/workflow-automation",
                registration_url="https://training.trainvite.dev/register/workflow-automation",
                presenter="Theo Martin, Product Specialist",
                learning_outcomes=(
                    LearningOutcome("automations", "Turn a manual hand-off into a workflow"),
                    LearningOutcome("alerts", "Alerts that reach the right person at once"),
                ),
            ),
        ),
        (
            "seed:admin-masterclass:2027-02-18",
            TrainingSession(
                id=uuid.UUID(int=0),
                title="Admin Console Masterclass",
                topic="Administration",
                description="Permissions, SSO and audit for workspace administrators.",
                features=("admin_console",),
                level=Level.ADVANCED,
                target_roles=("it_admin",),
                format=Format.IN_PERSON,
                start_time=_at(2027, 2, 18, 9, 30, "America/Los_Angeles"),
                time_zone="America/Los_Angeles",
                duration=dt.timedelta(hours=3),
                capacity=30,
                registration_url="https://training.trainvite.dev/register/admin-masterclass",
                presenter="Theo Martin, Product Specialist",
                learning_outcomes=(
                    LearningOutcome("admin_console", "Roles and permissions that scale"),
                ),
            ),
        ),
    ]


async def seed(uow: CatalogUnitOfWork) -> None:
    """Create the demo sessions that do not exist yet."""
    async with uow:
        for request_id, session in demo_sessions():
            await uow.sessions.add(
                session.with_id(uuid.uuid5(uuid.NAMESPACE_URL, request_id)), request_id
            )
        await uow.commit()
