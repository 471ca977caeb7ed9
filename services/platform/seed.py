"""Idempotent demo data for the platform's inputs: the PRD's CloudTech team and role peers.

Usage is generated for the 60 days before `today` from fixed per-person targets (active days in
the last 30 days), with a deterministic random spread, so that the role benchmarks put Sarah Chen
low on dashboards, Mike Johnson at the top (power user) and Lisa Park in the middle.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

import asyncpg

FEATURES = {
    "dashboards": "Custom dashboards",
    "report_scheduling": "Scheduled reports",
    "data_exports": "Data exports",
    "sharing": "Sharing and collaboration",
    "automations": "Workflow automations",
    "alerts": "Alerts",
    "api": "API access",
    "admin_console": "Admin console",
}

CSM_EMAIL = "alex.rivera@trainvite.dev"
OTHER_CSM_EMAIL = "jordan.blake@trainvite.dev"


@dataclass(frozen=True)
class Customer:
    id: str
    display_name: str
    csm_email: str
    csm_name: str
    csm_signature: str
    entitlements: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    id: str
    customer_id: str
    display_name: str
    email: str | None
    role: str
    title: str
    time_zone: str
    opted_out: bool = False
    # feature -> active days in the last 30 days
    active_days: dict[str, int] = field(default_factory=dict)
    events_per_day: int = 6


CUSTOMERS = [
    Customer(
        "cloudtech",
        "CloudTech",
        CSM_EMAIL,
        "Alex Rivera",
        "Alex Rivera\nCustomer Success Manager, trainvite",
        ("dashboards", "report_scheduling", "data_exports", "sharing", "automations", "alerts"),
    ),
    Customer(
        "northwind",
        "Northwind Logistics",
        CSM_EMAIL,
        "Alex Rivera",
        "Alex Rivera\nCustomer Success Manager, trainvite",
        ("dashboards", "report_scheduling", "data_exports", "sharing", "alerts", "api"),
    ),
    Customer(
        "helios",
        "Helios Health",
        OTHER_CSM_EMAIL,
        "Jordan Blake",
        "Jordan Blake\nCustomer Success Manager, trainvite",
        ("dashboards", "report_scheduling", "sharing", "automations", "admin_console"),
    ),
    Customer(
        "acme",
        "Acme Retail",
        OTHER_CSM_EMAIL,
        "Jordan Blake",
        "Jordan Blake\nCustomer Success Manager, trainvite",
        ("dashboards", "report_scheduling", "data_exports", "sharing", "automations"),
    ),
]

_ANALYTICS = ("dashboards", "report_scheduling", "sharing")

PEOPLE = [
    # The PRD's CloudTech team.
    Person(
        "ct-sarah",
        "cloudtech",
        "Sarah Chen",
        "sarah.chen@cloudtech.example",
        "operations_leader",
        "Director of Ops",
        "America/New_York",
        active_days={"dashboards": 2, "report_scheduling": 0, "sharing": 3, "automations": 9},
    ),
    Person(
        "ct-mike",
        "cloudtech",
        "Mike Johnson",
        "mike.johnson@cloudtech.example",
        "data_analyst",
        "Data Analyst",
        "America/Los_Angeles",
        active_days={"dashboards": 28, "report_scheduling": 24, "sharing": 25, "data_exports": 20},
        events_per_day=14,
    ),
    Person(
        "ct-lisa",
        "cloudtech",
        "Lisa Park",
        "lisa.park@cloudtech.example",
        "team_lead",
        "Team Lead",
        "Europe/London",
        active_days={"dashboards": 8, "report_scheduling": 6, "sharing": 9},
    ),
    Person(
        "ct-tom",
        "cloudtech",
        "Tom Becker",
        "tom.becker@cloudtech.example",
        "finance_leader",
        "VP Finance",
        "America/New_York",
        opted_out=True,
        active_days={"dashboards": 1},
    ),
    Person(
        "ct-priya",
        "cloudtech",
        "Priya Nair",
        "priya.nair@cloudtech.example",
        "it_admin",
        "IT Administrator",
        "Asia/Kolkata",
        active_days={"alerts": 12, "automations": 6},
    ),
    # Role peers at other customers: they set the role benchmarks.
    Person(
        "nw-ops",
        "northwind",
        "Dana Scott",
        "dana.scott@northwind.example",
        "operations_leader",
        "VP Operations",
        "America/Chicago",
        active_days={"dashboards": 9, "report_scheduling": 7, "sharing": 8},
    ),
    Person(
        "nw-analyst",
        "northwind",
        "Omar Haddad",
        "omar.haddad@northwind.example",
        "data_analyst",
        "BI Analyst",
        "America/Chicago",
        active_days={"dashboards": 12, "report_scheduling": 10, "sharing": 11},
    ),
    Person(
        "nw-lead",
        "northwind",
        "Grace Kim",
        "grace.kim@northwind.example",
        "team_lead",
        "Dispatch Team Lead",
        "America/Denver",
        active_days={"dashboards": 7, "report_scheduling": 5, "sharing": 8},
    ),
    Person(
        "he-ops",
        "helios",
        "Ravi Patel",
        "ravi.patel@helios.example",
        "operations_leader",
        "Head of Operations",
        "Europe/Berlin",
        active_days={"dashboards": 11, "report_scheduling": 9, "sharing": 10},
    ),
    Person(
        "he-analyst",
        "helios",
        "Emma Larsen",
        "emma.larsen@helios.example",
        "data_analyst",
        "Data Analyst",
        "Europe/Berlin",
        active_days={"dashboards": 14, "report_scheduling": 12, "sharing": 12},
    ),
    Person(
        "he-lead",
        "helios",
        "Noah Wilson",
        "noah.wilson@helios.example",
        "team_lead",
        "Clinic Team Lead",
        "Europe/Berlin",
        active_days={"dashboards": 9, "report_scheduling": 7, "sharing": 9},
    ),
    Person(
        "ac-ops",
        "acme",
        "Maria Gomez",
        "maria.gomez@acme.example",
        "operations_leader",
        "Operations Director",
        "America/New_York",
        active_days={"dashboards": 10, "report_scheduling": 8, "sharing": 9},
    ),
    Person(
        "ac-analyst",
        "acme",
        "Wei Zhang",
        "wei.zhang@acme.example",
        "data_analyst",
        "Senior Analyst",
        "America/Los_Angeles",
        active_days={"dashboards": 10, "report_scheduling": 9, "sharing": 10},
    ),
    Person(
        "ac-lead",
        "acme",
        "Sam Taylor",
        "sam.taylor@acme.example",
        "team_lead",
        "Store Team Lead",
        "America/New_York",
        active_days={"dashboards": 8, "report_scheduling": 6, "sharing": 7},
    ),
]


def usage_rows(person: Person, today: dt.date) -> list[tuple[str, str, dt.date, int]]:
    """Daily usage: the person's active days in the last 30 days, and a similar month before."""
    rows = []
    for feature, days in sorted(person.active_days.items()):
        rng = random.Random(f"{person.id}:{feature}")
        for window_start in (1, 31):
            offsets = rng.sample(range(window_start, window_start + 30), days)
            for offset in offsets:
                events = max(1, round(rng.gauss(person.events_per_day, 2)))
                rows.append((person.id, feature, today - dt.timedelta(days=offset - 1), events))
    return rows


async def seed(conn: asyncpg.Connection[asyncpg.Record], today: dt.date) -> None:
    """Write the demo platform data; running it again leaves the same data."""
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO platform.features (key, display_name) VALUES ($1, $2)
               ON CONFLICT (key) DO UPDATE SET display_name = EXCLUDED.display_name""",
            list(FEATURES.items()),
        )
        await conn.executemany(
            """INSERT INTO platform.customers (id, display_name, csm_email, csm_name, csm_signature)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name,
                   csm_email = EXCLUDED.csm_email, csm_name = EXCLUDED.csm_name,
                   csm_signature = EXCLUDED.csm_signature""",
            [(c.id, c.display_name, c.csm_email, c.csm_name, c.csm_signature) for c in CUSTOMERS],
        )
        await conn.executemany(
            """INSERT INTO platform.entitlements (customer_id, feature) VALUES ($1, $2)
               ON CONFLICT DO NOTHING""",
            [(c.id, f) for c in CUSTOMERS for f in c.entitlements],
        )
        await conn.executemany(
            """INSERT INTO platform.stakeholders
                   (id, customer_id, display_name, email, role, title, time_zone, opted_out)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name,
                   email = EXCLUDED.email, role = EXCLUDED.role, title = EXCLUDED.title,
                   time_zone = EXCLUDED.time_zone, opted_out = EXCLUDED.opted_out""",
            [
                (
                    p.id,
                    p.customer_id,
                    p.display_name,
                    p.email,
                    p.role,
                    p.title,
                    p.time_zone,
                    p.opted_out,
                )
                for p in PEOPLE
            ],
        )
        ids = [p.id for p in PEOPLE]
        # Usage is regenerated relative to today, so the 30-day window always holds the story.
        await conn.execute(
            "DELETE FROM platform.usage_metrics WHERE stakeholder_id = ANY($1::text[])", ids
        )
        await conn.copy_records_to_table(
            "usage_metrics",
            schema_name="platform",
            columns=["stakeholder_id", "feature", "day", "events"],
            records=[row for p in PEOPLE for row in usage_rows(p, today)],
        )
