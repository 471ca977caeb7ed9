"""One customer, its people and the catalog's sessions, on the personalizer's fakes.

Who is drafted for DASHBOARDS and why: Ana and Ben fit (target roles, no use of dashboards
yet); Lou uses dashboards a lot and is no target role (low fit); Olga opted out, Nora has no
address, Sam's address is suppressed, Tia attended the course already.
"""

from __future__ import annotations

import datetime as dt
import uuid

from services.common.auth import CallerKind, Principal
from services.personalizer.domain.gaps import Usage
from services.personalizer.domain.model import (
    Customer,
    LearningOutcome,
    SessionInfo,
    Stakeholder,
    TrainingRecord,
)
from tests.fakes.personalizer import FakePersonalizer, fake_personalizer

NOW = dt.datetime(2027, 1, 11, 15, tzinfo=dt.UTC)
CSM = Principal("alex@trainvite.dev", CallerKind.CSM)
OTHER_CSM = Principal("sasha@trainvite.dev", CallerKind.CSM)

CLOUDTECH = Customer(
    "cloudtech",
    "CloudTech",
    CSM.subject,
    "Alex Kim",
    "Alex",
    frozenset({"dashboards", "sharing"}),
    {"dashboards": "Custom dashboards", "sharing": "Sharing"},
)
NORTHWIND = Customer(
    "northwind", "Northwind", OTHER_CSM.subject, "Sasha Lee", "Sasha", frozenset({"dashboards"})
)


def _person(pid: str, role: str, **kw: object) -> Stakeholder:
    values: dict[str, object] = {
        "id": pid,
        "customer_id": "cloudtech",
        "display_name": f"{pid.capitalize()} Example",
        "email": f"{pid}@cloudtech.example",
        "role": role,
        "title": role.replace("_", " ").title(),
        "time_zone": "America/New_York",
    }
    values.update(kw)
    return Stakeholder(**values)  # type: ignore[arg-type]


ANA = _person("ana", "data_analyst")
BEN = _person("ben", "team_lead")
LOU = _person("lou", "sales")
OLGA = _person("olga", "data_analyst", opted_out=True)
NORA = _person("nora", "data_analyst", email=None)
SAM = _person("sam", "data_analyst")
TIA = _person("tia", "data_analyst")
NINA = _person("nina", "data_analyst", customer_id="northwind", email="nina@northwind.example")
PEOPLE = (ANA, BEN, LOU, OLGA, NORA, SAM, TIA, NINA)


def session(title: str, days: float, level: str = "beginner") -> SessionInfo:
    return SessionInfo(
        name=f"training-sessions/{uuid.uuid5(uuid.NAMESPACE_URL, title)}",
        title=title,
        topic="Dashboards",
        level=level,
        format="live_webinar",
        features=("dashboards",),
        target_roles=("data_analyst", "team_lead"),
        start_time=NOW + dt.timedelta(days=days),
        time_zone="America/New_York",
        duration=dt.timedelta(minutes=60),
        join_url="https://meet.example/dash",
        registration_url="https://trainvite.dev/register/dash",
        presenter="Robin",
        learning_outcomes=(LearningOutcome("dashboards", "Build a dashboard"),),
        course="courses/dashboards",
    )


DASHBOARDS = session("Dashboards from scratch", 30)
DASHBOARDS_AGAIN = session("Dashboards from scratch, again", 60)
DASHBOARDS_PAST = session("Dashboards from scratch, last month", -30)


def world() -> FakePersonalizer:
    p = fake_personalizer(lambda: NOW)
    p.store.customers = {c.id: c for c in (CLOUDTECH, NORTHWIND)}
    p.store.stakeholders = list(PEOPLE)
    p.store.usage[(LOU.id, "dashboards")] = Usage(active_days=20, events=400)
    p.store.suppressed[SAM.email or ""] = "hard bounce"
    p.store.history[(TIA.id, DASHBOARDS_PAST.name)] = TrainingRecord(
        TIA.id,
        DASHBOARDS_PAST.name,
        DASHBOARDS_PAST.course,
        "Dashboards from scratch",
        DASHBOARDS_PAST.features,
        "attended",
        DASHBOARDS_PAST.start_time,
    )
    for s in (DASHBOARDS, DASHBOARDS_AGAIN, DASHBOARDS_PAST):
        p.catalog.add(s)
    return p
