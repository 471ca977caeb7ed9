"""Personalizer at scale: 5,000 customers, 100,000 stakeholders, 1 then 10 million usage rows.

GetTrainingGaps for a 200-person customer and DraftInvitations for a 10,000-recipient batch,
over gRPC from a separate load process, against the services running as their own processes.
The raw baseline, measured in the same run: rendering the same templates in a loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import time
import uuid

import asyncpg
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from bench.environment import BenchEnvironment, bench_environment
from bench.harness import load, start, wait_for_port, write_requests
from services.common.auth import CallerKind, issue_token
from services.personalizer.adapters.benchmark_repository import PostgresBenchmarkRepository
from services.personalizer.adapters.rendering import InvitationRenderer
from services.personalizer.domain.gaps import FeatureAdoption
from services.personalizer.domain.model import (
    AdoptionLevel,
    Customer,
    LearningOutcome,
    SessionInfo,
    Stakeholder,
)
from services.personalizer.domain.selection import Assessment, assess
from tests.helpers import free_port
from tools.seed import seed_all

CUSTOMERS = 5_000
STAKEHOLDERS = 100_000
BIG = 10_000  # the 10,000-recipient customer
SMALL = 200  # the 200-person customer
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
ACTIVITY = 0.083  # chance a person uses one of their features on a day: ~1M rows a 30 days
WINDOWS = (7, 30, 90)

# The 10,000-person customer (bench-1) and the 200-person one (bench-2) have every person in a
# role the Advanced Analytics course is for; the rest are spread over the other customers.
_PLATFORM = """
INSERT INTO platform.customers (id, display_name, csm_email, csm_name)
SELECT 'bench-' || i, 'Bench customer ' || i, 'csm' || (i % 50) || '@bench.example',
       'CSM ' || (i % 50)
FROM generate_series(1, $1) i;

INSERT INTO platform.entitlements (customer_id, feature)
SELECT c.id, f.key FROM platform.customers c CROSS JOIN platform.features f
WHERE c.id LIKE 'bench-%'
  AND (f.key IN ('dashboards', 'report_scheduling', 'sharing') OR hashtext(c.id || f.key) % 3 <> 0);

INSERT INTO platform.stakeholders (id, customer_id, display_name, email, role, title, time_zone)
SELECT 'bs-' || i,
       CASE WHEN i <= $1 THEN 'bench-1'
            WHEN i <= $1 + $2 THEN 'bench-2'
            ELSE 'bench-' || (3 + (i % ($3 - 2))) END,
       'Person ' || i, 'person' || i || '@bench.example',
       (ARRAY['operations_leader', 'data_analyst', 'team_lead', 'it_admin', 'finance_leader'])[
           1 + (i % CASE WHEN i <= $1 + $2 THEN 3 ELSE 5 END)],
       'Title ' || (i % 17),
       (ARRAY['America/New_York', 'America/Los_Angeles', 'Europe/London', 'Asia/Tokyo'])[1 + i % 4]
FROM generate_series(1, $4) i;
"""

# Each person uses four of the features, on a day with a chance that differs by person.
_USAGE = """
INSERT INTO platform.usage_metrics (stakeholder_id, feature, day, events)
SELECT s.id, f.key, current_date - d, 1 + (random() * 20)::int
FROM platform.stakeholders s
JOIN LATERAL (
    SELECT key FROM platform.features ORDER BY hashtext(s.id || key) LIMIT 4
) f ON true
CROSS JOIN generate_series($1::int, $2::int) d
WHERE s.id LIKE 'bs-%' AND random() < $3 * (0.2 + 1.6 * ((hashtext(s.id) & 1023) / 1023.0))
"""


async def load_platform(database_url: str) -> None:
    customers, entitlements, stakeholders = _PLATFORM.split(";\n\n")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(customers, CUSTOMERS)
        await conn.execute(entitlements)
        await conn.execute(stakeholders, BIG, SMALL, CUSTOMERS, STAKEHOLDERS)
    finally:
        await conn.close()


async def add_usage(database_url: str, first_day: int, last_day: int) -> int:
    """Usage for days `first_day`..`last_day` ago; returns the table's row count."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(_USAGE, first_day, last_day, ACTIVITY)
        await conn.execute("ANALYZE platform.usage_metrics")
        count: int = await conn.fetchval("SELECT count(*) FROM platform.usage_metrics")
        return count
    finally:
        await conn.close()


async def refresh_benchmarks(database_url: str) -> float:
    """Seconds to recompute every window's role benchmarks, as the personalizer does."""
    conn = await asyncpg.connect(
        database_url, server_settings={"search_path": "personalizer,public"}
    )
    try:
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        for window in WINDOWS:
            async with conn.transaction():
                await PostgresBenchmarkRepository(conn).refresh(window, now.date(), now)
        return time.perf_counter() - started
    finally:
        await conn.close()


def _draft_name() -> str:
    """A draft's name, as the registration link carries it."""
    return f"customers/c/invitation-batches/{uuid.uuid4()}/drafts/{uuid.uuid4()}"


def render_baseline(n: int = 2_000) -> tuple[float, float]:
    """Drafts per second rendering the invitation templates in a loop: templates only, and with
    the calendar invitation, as DraftInvitations renders each draft."""
    renderer = InvitationRenderer()
    session = SessionInfo(
        name="training-sessions/bench",
        title="Advanced Analytics & Custom Dashboards",
        topic="Advanced Analytics",
        level="advanced",
        format="live_webinar",
        features=("dashboards", "report_scheduling", "sharing"),
        target_roles=("operations_leader", "data_analyst", "team_lead"),
        start_time=dt.datetime(2027, 2, 4, 19, tzinfo=dt.UTC),
        time_zone="America/New_York",
        duration=dt.timedelta(minutes=90),
        join_url="https://x.example/j",
        registration_url="https://x.example/r",
        presenter="Nina",
        learning_outcomes=(LearningOutcome("dashboards", "Build dashboards"),),
    )
    customer = Customer("c", "C", "csm@x.example", "CSM", "CSM", frozenset(session.features))
    person = Stakeholder("p", "c", "Pat Doe", "pat@x.example", "team_lead", "Lead", "Europe/London")
    adoption = {
        f: FeatureAdoption(f, AdoptionLevel.MEDIUM, 8, 40, 8, 40, "8 active days")
        for f in session.features
    }
    assessment = assess(person, customer, session, adoption, False)
    assert isinstance(assessment, Assessment)
    now = dt.datetime.now(dt.UTC)
    _, _, context = renderer.render(assessment, customer, session, _draft_name(), now)
    started = time.perf_counter()
    for _ in range(n):
        renderer.render_angle(assessment.angle, context)
    templates_only = n / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(n):
        renderer.render(assessment, customer, session, _draft_name(), now)
    full = n / (time.perf_counter() - started)
    return templates_only, full


def run(env: BenchEnvironment) -> None:
    asyncio.run(seed_all(env.database_url))
    started = time.perf_counter()
    asyncio.run(load_platform(env.database_url))
    rows = asyncio.run(add_usage(env.database_url, 0, 29))
    print(
        f"loaded {CUSTOMERS:,} customers, {STAKEHOLDERS:,} stakeholders, {rows:,} usage rows "
        f"in {time.perf_counter() - started:.0f} s"
    )
    templates_only, full_render = render_baseline()
    print(
        f"baseline: templates rendered in a loop {templates_only:,.0f} drafts/s; "
        f"with the .ics {full_render:,.0f} drafts/s"
    )

    key = "bench-key-" + uuid.uuid4().hex
    # Each customer's own CSM asks (bench-i is assigned to csm{i % 50}): only they may.
    gaps_token = issue_token(key, "csm2@bench.example", CallerKind.CSM)
    draft_token = issue_token(key, "csm1@bench.example", CallerKind.CSM)
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    ports = {"catalog": free_port(), "personalizer": free_port()}
    common = {
        "DATABASE_URL": env.database_url,
        "NATS_URL": env.nats_url,
        "JWT_SECRET": key,
        "EVENT_NAMESPACE": namespace,
        "LOG_LEVEL": "WARNING",
    }
    work = env.work_dir
    seconds = asyncio.run(refresh_benchmarks(env.database_url))
    print(
        f"role benchmarks ({', '.join(map(str, WINDOWS))} days) over {rows:,} rows: {seconds:.1f} s"
    )
    catalog = start(
        ["-m", "services.catalog"],
        {**common, "GRPC_PORT": str(ports["catalog"])},
        work / "catalog.log",
    )
    personalizer = start(
        ["-m", "services.personalizer"],
        {
            **common,
            "GRPC_PORT": str(ports["personalizer"]),
            "CATALOG_ADDRESS": f"127.0.0.1:{ports['catalog']}",
            "FREQUENCY_CAP_DAYS": "0",
        },
        work / "personalizer.log",
    )
    target = f"127.0.0.1:{ports['personalizer']}"
    service = "/trainvite.personalizer.v1.PersonalizerService/"
    gaps = write_requests(
        work / "gaps.txt",
        [pb.GetTrainingGapsRequest(name="customers/bench-2/training-gaps").SerializeToString()],
    )
    try:
        wait_for_port(ports["catalog"], catalog)
        wait_for_port(ports["personalizer"], personalizer)
        results = {}

        def gaps_load() -> dict[str, float]:
            return load(
                target, service + "GetTrainingGaps", gaps_token, gaps, CONCURRENCY_GAPS, SECONDS
            )

        results["1M"] = load(
            target, service + "GetTrainingGaps", gaps_token, gaps, CONCURRENCY_GAPS, SECONDS
        )
        rows = asyncio.run(add_usage(env.database_url, 30, 299))
        seconds = asyncio.run(refresh_benchmarks(env.database_url))
        print(f"usage grown to {rows:,} rows; role benchmarks refreshed in {seconds:.1f} s")
        results["10M"] = load(
            target, service + "GetTrainingGaps", gaps_token, gaps, CONCURRENCY_GAPS, SECONDS
        )

        session = _upcoming_advanced_analytics(env)
        drafts = write_requests(
            work / "draft.txt",
            [
                pb.DraftInvitationsRequest(
                    parent="customers/bench-1",
                    training_session=session,
                    view=pb.INVITATION_BATCH_VIEW_BASIC,
                ).SerializeToString()
            ],
        )
        draft = load(
            target,
            service + "DraftInvitations",
            draft_token,
            drafts,
            concurrency=1,
            max_requests=3,
            seconds=600,
            call_timeout=300,
        )
        stored = asyncio.run(_stored_drafts(env.database_url))
    finally:
        for child in (catalog, personalizer):
            child.send_signal(signal.SIGTERM)
            child.wait(30)

    print(f"\nGetTrainingGaps, 200-person customer, {CONCURRENCY_GAPS} in flight, {SECONDS:g} s:")
    for label, r in results.items():
        print(
            f"  {label:>4} usage rows: {r['rps']:7,.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
            f"p99 {r['p99_ms']:7.1f} ms  errors {int(r['errors'])}"
        )
    per_batch = draft["p50_ms"] / 1000
    rate = BIG / per_batch
    print(
        f"\nDraftInvitations, {BIG:,}-recipient batch, end to end (assess, render, store), "
        f"{int(draft['requests'])} runs:"
    )
    print(
        f"  p50 {per_batch:.1f} s per batch = {rate:,.0f} drafts/s; {stored:,} drafts stored; "
        f"{rate / full_render:.2f}x the render loop with .ics, "
        f"{rate / templates_only:.2f}x templates only"
    )


CONCURRENCY_GAPS = 8


def _upcoming_advanced_analytics(env: BenchEnvironment) -> str:
    async def find() -> str:
        conn = await asyncpg.connect(env.database_url)
        try:
            row = await conn.fetchval(
                """
                SELECT 'training-sessions/' || o.id FROM catalog.occurrences o
                JOIN catalog.courses c ON c.id = o.course_id
                WHERE c.title = 'Advanced Analytics & Custom Dashboards' AND o.start_time > now()
                ORDER BY o.start_time LIMIT 1
                """
            )
            return str(row)
        finally:
            await conn.close()

    return asyncio.run(find())


async def _stored_drafts(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            """
            SELECT count(*) FROM personalizer.invitation_drafts d
            JOIN personalizer.invitation_batches b ON b.id = d.batch_id
            WHERE b.customer_id = 'bench-1'
            """
        )
        return count
    finally:
        await conn.close()


def main() -> None:
    print("== personalizer: 5,000 customers, 100,000 stakeholders, 1M then 10M usage rows ==")
    with bench_environment() as env:
        run(env)
