"""Idempotent demo catalog: the PRD's Advanced Analytics course and a few others.

Each course and session is created with a fixed request id, so running the seed again creates
nothing new. The PRD's session (February 5, 2026) is kept as written; its course runs again on
February 4, 2027, so that a demo run after the PRD's date still finds an upcoming session.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from services.catalog.domain.model import Course, Format, LearningOutcome, Level, TrainingSession
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork

_NY = "America/New_York"
_LA = "America/Los_Angeles"
_LONDON = "Europe/London"


def _at(year: int, month: int, day: int, hour: int, minute: int, zone: str) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def _id(request_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, request_id)


ADVANCED_ANALYTICS = Course(
    id=_id("seed:course:advanced-analytics"),
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
    duration=dt.timedelta(minutes=90),
    learning_outcomes=(
        LearningOutcome(
            "dashboards", "How to build custom dashboards tailored to your KPIs", Level.INTERMEDIATE
        ),
        LearningOutcome(
            "report_scheduling",
            "Automated report scheduling (no more manual exports!)",
            Level.INTERMEDIATE,
        ),
        LearningOutcome(
            "sharing", "Tips for sharing insights across your organization", Level.INTERMEDIATE
        ),
        LearningOutcome(
            "dashboards", "Calculated fields and drill-downs for deeper analysis", Level.ADVANCED
        ),
        LearningOutcome(
            "report_scheduling",
            "Conditional report delivery and KPI alerts for stakeholders",
            Level.ADVANCED,
        ),
    ),
)
DASHBOARDS_FUNDAMENTALS = Course(
    id=_id("seed:course:dashboards-fundamentals"),
    title="Dashboards Fundamentals",
    topic="Dashboards",
    description="Your first dashboards and reports, step by step.",
    features=("dashboards", "report_scheduling"),
    level=Level.BEGINNER,
    format=Format.LIVE_WEBINAR,
    duration=dt.timedelta(minutes=60),
    learning_outcomes=(
        LearningOutcome("dashboards", "Build a dashboard from a template in minutes"),
        LearningOutcome("report_scheduling", "Send a weekly report automatically"),
    ),
)
WORKFLOW_AUTOMATION = Course(
    id=_id("seed:course:workflow-automation"),
    title="Workflow Automation Essentials",
    topic="Automation",
    description="Automate hand-offs, alerts and approvals with workflows.",
    features=("automations", "alerts"),
    level=Level.INTERMEDIATE,
    target_roles=("operations_leader", "team_lead", "it_admin"),
    format=Format.LIVE_WEBINAR,
    duration=dt.timedelta(minutes=75),
    learning_outcomes=(
        LearningOutcome("automations", "Turn a manual hand-off into a workflow"),
        LearningOutcome("alerts", "Alerts that reach the right person at once"),
    ),
)
ADMIN_MASTERCLASS = Course(
    id=_id("seed:course:admin-masterclass"),
    title="Admin Console Masterclass",
    topic="Administration",
    description="Permissions, SSO and audit for workspace administrators.",
    features=("admin_console",),
    level=Level.ADVANCED,
    target_roles=("it_admin",),
    format=Format.IN_PERSON,
    duration=dt.timedelta(hours=3),
    learning_outcomes=(LearningOutcome("admin_console", "Roles and permissions that scale"),),
)

COURSES = {
    "seed:course:advanced-analytics": ADVANCED_ANALYTICS,
    "seed:course:dashboards-fundamentals": DASHBOARDS_FUNDAMENTALS,
    "seed:course:workflow-automation": WORKFLOW_AUTOMATION,
    "seed:course:admin-masterclass": ADMIN_MASTERCLASS,
}


def _session(
    course: Course, start: dt.datetime, zone: str, slug: str, **kw: object
) -> TrainingSession:
    return TrainingSession(
        id=uuid.UUID(int=0),
        course_id=course.id,
        start_time=start,
        time_zone=zone,
        registration_url=f"https://training.trainvite.dev/register/{slug}",
        **kw,  # type: ignore[arg-type]
    )


def demo_sessions() -> list[tuple[str, TrainingSession]]:
    """(request id, session) for every demo session; the upcoming live webinars name their
    Zoom webinar, whose webhooks bring their attendance in."""
    nina = {"presenter": "Nina Alvarez, Solutions Engineer"}
    theo = {"presenter": "Theo Martin, Product Specialist"}
    live = "https://training.trainvite.dev/live"
    return [
        (
            "seed:advanced-analytics:2026-02-05",
            _session(
                ADVANCED_ANALYTICS,
                _at(2026, 2, 5, 14, 0, _NY),
                _NY,
                "advanced-analytics",
                capacity=100,
                join_url=f"{live}/advanced-analytics",
                **nina,
            ),
        ),
        (
            "seed:advanced-analytics:2027-02-04",
            _session(
                ADVANCED_ANALYTICS,
                _at(2027, 2, 4, 14, 0, _NY),
                _NY,
                "advanced-analytics",
                capacity=100,
                join_url=f"{live}/advanced-analytics",
                webinar_id="84512347701",
                **nina,
            ),
        ),
        (
            "seed:dashboards-fundamentals:2027-01-14",
            _session(
                DASHBOARDS_FUNDAMENTALS,
                _at(2027, 1, 14, 11, 0, _NY),
                _NY,
                "dashboards-fundamentals",
                capacity=200,
                join_url=f"{live}/dashboards-fundamentals",
                webinar_id="84512347702",
                **nina,
            ),
        ),
        (
            "seed:workflow-automation:2027-01-21",
            _session(
                WORKFLOW_AUTOMATION,
                _at(2027, 1, 21, 10, 0, _LONDON),
                _LONDON,
                "workflow-automation",
                capacity=150,
                join_url=f"{live}/workflow-automation",
                webinar_id="84512347703",
                **theo,
            ),
        ),
        (
            "seed:admin-masterclass:2027-02-18",
            _session(
                ADMIN_MASTERCLASS,
                _at(2027, 2, 18, 9, 30, _LA),
                _LA,
                "admin-masterclass",
                capacity=30,
                **theo,
            ),
        ),
    ]


async def seed(uow: CatalogUnitOfWork) -> None:
    """Create the demo courses and sessions that do not exist yet."""
    async with uow:
        for request_id, course in COURSES.items():
            await uow.courses.add(course, request_id)
        for request_id, session in demo_sessions():
            await uow.sessions.add(
                session.__class__(**{**session.__dict__, "id": _id(request_id)}), request_id
            )
        await uow.commit()
