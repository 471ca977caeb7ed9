"""The HTTP edge's registration POST under load, beside an empty Starlette handler.

The catalog and the edge run as their own processes, as deployed (`python -m services.catalog`,
`python -m services.edge`: uvicorn, uvloop, the edge's own settings and service token). Every
request is a different person's signed registration link, so each one writes a registration:
first to a session with seats for all, then to one with 10 seats, whose later registrations go
to the waitlist. A separate load process (bench/http_load.py, one keep-alive connection per
concurrent task) drives the edge, and in the same run, with the same concurrency and time, a
bare Starlette app with one empty POST handler under the same uvicorn settings. Afterwards the
catalog must hold exactly as many registrations as the edge answered 2xx.

BENCH_PROFILE_DIR=DIR runs the edge and the catalog under pyinstrument and writes their
profiles there, each as a call tree and as a flat list (edge-tree.txt, edge-flat.txt, ...).
The register path calls no dispatcher, so none runs; the edge's channel to it is never opened.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.catalog.v1 import catalog_pb2 as pb
from trainvite.catalog.v1 import catalog_pb2_grpc

from bench.environment import BenchEnvironment, bench_environment
from bench.harness import start, wait_for_port
from services.common.auth import CallerKind, issue_token
from services.common.registration_links import LinkClaims, LinkKeys, sign
from tests.helpers import free_port

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
# More links than the edge can take in the time: each is POSTed once.
LINKS = int(os.environ.get("BENCH_EDGE_LINKS", "30000"))
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR", "")
SMALL_CAPACITY = 10
LARGE_CAPACITY = 1_000_000
DRAFTS = "customers/bench/invitation-batches/{batch}/drafts/{draft}"


@dataclass(frozen=True)
class Run:
    name: str
    figures: dict[str, float]


def _http_load(base_url: str, paths: Path, cycle: bool = False) -> dict[str, float]:
    """Drive POSTs from the separate load process; its figures."""
    args = [
        sys.executable,
        "-m",
        "bench.http_load",
        base_url,
        "--paths",
        str(paths),
        "--seconds",
        str(SECONDS),
        "--concurrency",
        str(CONCURRENCY),
    ]
    out = subprocess.run(
        [*args, "--cycle"] if cycle else args,
        capture_output=True,
        text=True,
        timeout=SECONDS * 3 + 600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the load process failed:\n{out.stderr}")
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


async def _sessions(target: str, key: str) -> tuple[pb.TrainingSession, pb.TrainingSession]:
    """A course with two sessions a month ahead: seats for everyone, and 10 seats."""
    token = issue_token(key, "editor@bench.example", CallerKind.CATALOG_EDITOR)
    editor = (("authorization", f"Bearer {token}"),)
    start_time = Timestamp()
    start_time.FromDatetime(
        (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(minute=0, second=0)
    )
    async with grpc.aio.insecure_channel(target) as channel:
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        course = await catalog.CreateCourse(
            pb.CreateCourseRequest(
                course=pb.Course(
                    title="Advanced Analytics & Custom Dashboards",
                    topic="Analytics",
                    features=["dashboards"],
                    level=pb.SESSION_LEVEL_ADVANCED,
                    format=pb.SESSION_FORMAT_LIVE_WEBINAR,
                    duration=Duration(seconds=5400),
                )
            ),
            metadata=editor,
            timeout=30,
        )
        made = []
        for capacity in (LARGE_CAPACITY, SMALL_CAPACITY):
            made.append(
                await catalog.CreateTrainingSession(
                    pb.CreateTrainingSessionRequest(
                        training_session=pb.TrainingSession(
                            course=course.name,
                            start_time=start_time,
                            time_zone="America/New_York",
                            capacity=capacity,
                            registration_url="https://example.com/register",
                        )
                    ),
                    metadata=editor,
                    timeout=30,
                )
            )
    return made[0], made[1]


def _links(keys: LinkKeys, session: pb.TrainingSession, tag: str, path: Path) -> Path:
    """LINKS registration paths to `session`, each a different person's, as the personalizer
    signs them."""
    batch = uuid.uuid4()
    expires = session.start_time.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(days=30)
    zones = ("America/New_York", "Europe/London", "Asia/Tokyo", "America/Sao_Paulo")
    lines = []
    for i in range(LINKS):
        claims = LinkClaims(
            invitation=DRAFTS.format(batch=batch, draft=uuid.uuid4()),
            training_session=session.name,
            email=f"person{i}.{tag}@bench.example",
            tz=zones[i % len(zones)],
            expires=expires,
        )
        lines.append(f"/r/{sign(keys, claims)}/register")
    path.write_text("\n".join(lines))
    return path


async def _held(database_url: str, session: str) -> dict[str, int]:
    """The registrations the catalog holds for `session`, by state, and its seats taken."""
    occurrence = uuid.UUID(session.rsplit("/", 1)[1])
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT state, count(*) AS n FROM catalog.registrations WHERE occurrence_id = $1 "
            "GROUP BY state",
            occurrence,
        )
        taken = await conn.fetchval(
            "SELECT seats_taken FROM catalog.occurrences WHERE id = $1", occurrence
        )
    finally:
        await conn.close()
    return {**{r["state"]: r["n"] for r in rows}, "seats_taken": taken}


def _check(database_url: str, session: pb.TrainingSession, figures: dict[str, float]) -> str:
    """Every 2xx answer is one registration in the catalog, no more and no fewer."""
    held = asyncio.run(_held(database_url, session.name))
    registered, waitlisted = held.get("registered", 0), held.get("waitlisted", 0)
    answered = int(figures["requests"])
    assert registered + waitlisted == answered, (
        f"{session.name}: the edge answered 2xx {answered} times but the catalog holds "
        f"{registered} registered and {waitlisted} waitlisted ({held})"
    )
    assert held["seats_taken"] == registered, f"{session.name}: seats taken differ: {held}"
    if session.capacity:
        assert registered == min(answered, session.capacity), f"{session.name}: {held}"
    return f"{registered:,} registered + {waitlisted:,} waitlisted = {answered:,} 2xx answers"


def _server(module: str, name: str) -> list[str]:
    """The arguments that run `module`, under pyinstrument when profiles are asked for."""
    if not PROFILE_DIR:
        return ["-m", module]
    out = Path(PROFILE_DIR) / f"{name}.pyisession"
    return ["-m", "pyinstrument", "--renderer", "session", "--outfile", str(out), "-m", module]


def _render_profiles() -> None:
    """Each profile as a call tree and as a flat list of where the time was spent."""
    for name in ("edge", "catalog"):
        session = Path(PROFILE_DIR) / f"{name}.pyisession"
        for view, options in (("tree", []), ("flat", ["-p", "flat=true"])):
            out = Path(PROFILE_DIR) / f"{name}-{view}.txt"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pyinstrument",
                    "--load",
                    str(session),
                    "-r",
                    "text",
                    *options,
                    "--outfile",
                    str(out),
                ],
                check=True,
            )
            print(f"\n{name}, {view} (pyinstrument), {out}:")
            print("\n".join(out.read_text().splitlines()[:40]))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(env: BenchEnvironment) -> tuple[list[Run], list[str]]:
    key = "bench-key-" + uuid.uuid4().hex
    keys = LinkKeys([("bench", "bench-link-key-" + uuid.uuid4().hex)])
    work = env.work_dir
    ports = {"catalog": free_port(), "edge": free_port(), "empty": free_port()}
    empty = start(
        ["-m", "bench.empty_http_server", str(ports["empty"])], {}, work / "empty-http.log"
    )
    catalog = start(
        _server("services.catalog", "catalog"),
        {
            "DATABASE_URL": env.database_url,
            "NATS_URL": env.nats_url,
            "JWT_SECRET": key,
            "GRPC_PORT": str(ports["catalog"]),
            "EVENT_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
            "LOG_LEVEL": "WARNING",
        },
        work / "catalog.log",
    )
    edge = start(
        _server("services.edge", "edge"),
        {
            "HTTP_PORT": str(ports["edge"]),
            "CATALOG_ADDRESS": f"127.0.0.1:{ports['catalog']}",
            "DISPATCHER_ADDRESS": f"127.0.0.1:{free_port()}",
            "JWT_SECRET": key,
            "LINK_SIGNING_KEYS": f"{keys.signing_id}:{keys.secret(keys.signing_id)}",
            "LOG_LEVEL": "WARNING",
        },
        work / "edge.log",
    )
    children = (empty, catalog, edge)
    runs: list[Run] = []
    checks: list[str] = []
    try:
        for port, child in zip(ports.values(), (catalog, edge, empty), strict=True):
            wait_for_port(port, child)
        large, small = asyncio.run(_sessions(f"127.0.0.1:{ports['catalog']}", key))
        large_links = _links(keys, large, "seats", work / "large.txt")
        small_links = _links(keys, small, "waitlist", work / "small.txt")
        runs.append(
            Run(
                "empty Starlette POST handler",
                _http_load(f"http://127.0.0.1:{ports['empty']}", large_links, cycle=True),
            )
        )
        edge_url = f"http://127.0.0.1:{ports['edge']}"
        for name, session, links in (
            ("register (seats for all)", large, large_links),
            (f"register ({SMALL_CAPACITY} seats: waitlist)", small, small_links),
        ):
            before = {c: _cpu_seconds(c.pid) for c in (edge, catalog)}
            figures = _http_load(edge_url, links)
            served = max(figures["requests"] + figures["errors"], 1)
            figures["edge_cpu_ms"] = (_cpu_seconds(edge.pid) - before[edge]) * 1000 / served
            figures["catalog_cpu_ms"] = (
                (_cpu_seconds(catalog.pid) - before[catalog]) * 1000 / served
            )
            runs.append(Run(name, figures))
            checks.append(f"{name}: {_check(env.database_url, session, figures)}")
    finally:
        for child in children:
            # uvicorn stops on either, then raises the signal again: SIGTERM would end the
            # process before pyinstrument writes the edge's profile, SIGINT lets it.
            stop = signal.SIGINT if PROFILE_DIR and child is edge else signal.SIGTERM
            child.send_signal(stop)
        for child in children:
            child.wait(60)
    return runs, checks


def report(runs: list[Run], checks: list[str]) -> None:
    base = runs[0].figures
    print(
        f"\nload: a separate process (HTTP/1.1 keep-alive), {CONCURRENCY} concurrent connections, "
        f"{SECONDS:g} s each\n"
        f"{'POST':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}   vs empty handler"
    )
    for r in runs:
        f = r.figures
        short = "  (ran out of links)" if f.get("exhausted") else ""
        print(
            f"{r.name:<34}{f['rps']:>9,.0f}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}"
            f"{int(f['errors']):>8}   {f['rps'] / base['rps']:.2f}x rate, "
            f"{f['p50_ms'] / base['p50_ms']:.1f}x p50{short}"
        )
    for r in runs[1:]:
        print(
            f"{r.name}: CPU per request {r.figures['edge_cpu_ms']:.2f} ms in the edge, "
            f"{r.figures['catalog_cpu_ms']:.2f} ms in the catalog (PostgreSQL not counted)"
        )
    for line in checks:
        print(f"catalog after {line}")


def main() -> None:
    print("== edge: registration POSTs over HTTP ==")
    with bench_environment() as env:
        report(*run(env))
    if PROFILE_DIR:
        _render_profiles()


if __name__ == "__main__":
    main()
