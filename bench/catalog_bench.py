"""Catalog reads under load: 100,000 sessions, three read methods against an empty handler.

The catalog runs as its own process (as deployed, uvloop, auth and error interceptors on); a
separate load process drives one method at a time; the same load process drives a bare grpc.aio
server with one empty handler first, and every figure is printed beside that baseline.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import signal
import time
import uuid

import asyncpg
from trainvite.catalog.v1 import catalog_pb2 as pb

from bench.empty_server import METHOD as EMPTY_METHOD
from bench.environment import BenchEnvironment, bench_environment
from bench.harness import load, start, wait_for_port, write_requests
from services.common.auth import CallerKind, issue_token
from tests.helpers import free_port

COURSES = 2_000
SESSIONS_PER_COURSE = 50
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))

FEATURES = [
    "dashboards",
    "report_scheduling",
    "data_exports",
    "sharing",
    "automations",
    "alerts",
    "api",
    "admin_console",
    "forecasting",
    "integrations",
    "permissions",
    "audit_log",
]
TOPICS = [
    "Analytics",
    "Dashboards",
    "Reporting",
    "Automation",
    "Alerting",
    "Sharing",
    "Forecasting",
    "Integrations",
    "Administration",
    "Security",
    "Data Exports",
    "Permissions",
    "Audit",
    "Workflows",
    "Onboarding",
    "Collaboration",
    "APIs",
    "Scheduling",
    "Insights",
    "Governance",
]
LEVELS = ["beginner", "intermediate", "advanced"]
KINDS = ["Workshop", "Masterclass", "Essentials", "Clinic"]
QUERIES = [
    "Advanced Analytics",
    "Advanced Analytics training",
    "Advnced analytics",
    "dashboards training",
    "report scheduling",
    "automation",
    "security essentials",
    "forecasting",
    "api integrations",
    "onboarding",
]


def _course_rows(rng: random.Random) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for i in range(COURSES):
        level = LEVELS[i % 3]
        topic = TOPICS[rng.randrange(len(TOPICS))]
        title = (
            "Advanced Analytics & Custom Dashboards"
            if i == 0
            else f"{level.capitalize()} {topic} {rng.choice(KINDS)} {i}"
        )
        features = rng.sample(FEATURES, 3)
        outcomes = json.dumps(
            [{"feature": f, "text": f"Get more from {f.replace('_', ' ')}"} for f in features]
        )
        rows.append(
            (
                uuid.uuid4(),
                title,
                topic,
                f"A {level} course on {topic.lower()}.",
                features,
                level,
                ["data_analyst", "team_lead"] if i % 2 else [],
                "live_webinar",
                60,
                outcomes,
            )
        )
    return rows


async def load_catalog(database_url: str) -> list[uuid.UUID]:
    """100,000 sessions of 2,000 courses; a tenth in the past. Returns the session ids."""
    rng = random.Random(4)
    now = dt.datetime.now(dt.UTC)
    courses = _course_rows(rng)
    sessions = []
    for course in courses:
        for _ in range(SESSIONS_PER_COURSE):
            start = now + dt.timedelta(days=rng.uniform(-70, 700))
            sessions.append(
                (
                    uuid.uuid4(),
                    course[0],
                    start,
                    "America/New_York",
                    rng.choice([0, 50, 100]),
                    "https://example.com/register",
                )
            )
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "catalog,public"})
    try:
        await conn.execute(
            """
            CREATE TEMP TABLE course_load (id uuid, title text, topic text, description text,
                features text[], level text, target_roles text[], format text,
                duration_minutes int, learning_outcomes text)
            """
        )
        await conn.copy_records_to_table("course_load", records=courses)
        # Through INSERT, so that the search fields are filled by the table's trigger.
        await conn.execute(
            """
            INSERT INTO courses (id, title, topic, description, features, level, target_roles,
                                 format, duration_minutes, learning_outcomes)
            SELECT id, title, topic, description, features, level, target_roles, format,
                   duration_minutes, learning_outcomes::jsonb
            FROM course_load
            """
        )
        await conn.copy_records_to_table(
            "occurrences",
            records=sessions,
            columns=["id", "course_id", "start_time", "time_zone", "capacity", "registration_url"],
        )
        await conn.execute("ANALYZE courses; ANALYZE occurrences")
    finally:
        await conn.close()
    return [s[0] for s in sessions]


def measure(target: str, method: str, token: str = "", requests: str = "") -> dict[str, float]:
    return load(target, method, token, requests)


def run(env: BenchEnvironment) -> list[tuple[str, dict[str, float]]]:
    started = time.perf_counter()
    ids = asyncio.run(load_catalog(env.database_url))
    took = time.perf_counter() - started
    print(f"loaded {len(ids):,} sessions of {COURSES:,} courses in {took:.1f} s")
    rng = random.Random(7)
    key = "bench-key-" + uuid.uuid4().hex
    token = issue_token(key, "bench", CallerKind.SERVICE)
    work = env.work_dir
    gets = write_requests(
        work / "get.txt",
        [
            pb.GetTrainingSessionRequest(name=f"training-sessions/{i}").SerializeToString()
            for i in rng.sample(ids, 2_000)
        ],
    )
    lists = write_requests(
        work / "list.txt",
        [
            pb.ListTrainingSessionsRequest(page_size=20).SerializeToString(),
            pb.ListTrainingSessionsRequest(page_size=20, feature="dashboards").SerializeToString(),
            pb.ListTrainingSessionsRequest(
                page_size=20, level=pb.SESSION_LEVEL_ADVANCED
            ).SerializeToString(),
            pb.ListTrainingSessionsRequest(page_size=20, role="team_lead").SerializeToString(),
        ],
    )
    searches = write_requests(
        work / "search.txt",
        [pb.SearchTrainingSessionsRequest(query=q).SerializeToString() for q in QUERIES],
    )

    empty_port, catalog_port = free_port(), free_port()
    empty = start(["-m", "bench.empty_server", str(empty_port)], {}, work / "empty.log")
    catalog = start(
        ["-m", "services.catalog"],
        {
            "DATABASE_URL": env.database_url,
            "NATS_URL": env.nats_url,
            "JWT_SECRET": key,
            "GRPC_PORT": str(catalog_port),
            "EVENT_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
            "LOG_LEVEL": "WARNING",
        },
        work / "catalog.log",
    )
    results = []
    try:
        wait_for_port(empty_port, empty)
        wait_for_port(catalog_port, catalog)
        target = f"127.0.0.1:{catalog_port}"
        service = "/trainvite.catalog.v1.CatalogService/"
        results.append(
            (
                "empty grpc.aio handler",
                measure(f"127.0.0.1:{empty_port}", EMPTY_METHOD),
            )
        )
        results.append(
            (
                "GetTrainingSession",
                measure(target, service + "GetTrainingSession", token, gets),
            )
        )
        results.append(
            (
                "ListTrainingSessions (20)",
                measure(target, service + "ListTrainingSessions", token, lists),
            )
        )
        results.append(
            (
                "SearchTrainingSessions",
                measure(target, service + "SearchTrainingSessions", token, searches),
            )
        )
    finally:
        for child in (empty, catalog):
            child.send_signal(signal.SIGTERM)
            child.wait(30)
    return results


def report(results: list[tuple[str, dict[str, float]]]) -> None:
    base = results[0][1]
    print(
        f"\nload: a separate process, {CONCURRENCY} concurrent calls, {SECONDS:g} s per method\n"
        f"{'method':<28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}   vs empty handler"
    )
    for name, r in results:
        print(
            f"{name:<28}{r['rps']:>9,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{int(r['errors']):>8}"
            f"   {r['rps'] / base['rps']:.2f}x rate, {r['p50_ms'] / base['p50_ms']:.1f}x p50"
        )


def main() -> None:
    print("== catalog: 100,000 sessions ==")
    with bench_environment() as env:
        report(run(env))


if __name__ == "__main__":
    main()
