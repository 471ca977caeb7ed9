"""`make load`: the chat gateway's mix of calls against the three services, for minutes.

Mostly reads (search, list, gaps, a batch, its delivery status), some drafting, editing and
approving, with the tokens of several CSMs, each on their own customers. The services run as
their own processes; the calls come from a separate load process
(`python -m bench.gateway_load --drive ...`). Prints requests per second and p50 / p99 per RPC,
errors by status code, and each service's resident memory at the start and the end, flagging
growth beyond a small margin.

    python -m bench load [--seconds 180] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import grpc
import uvloop
from google.protobuf.field_mask_pb2 import FieldMask
from grpc_health.v1 import health_pb2, health_pb2_grpc
from trainvite.catalog.v1 import catalog_pb2 as cpb
from trainvite.catalog.v1 import catalog_pb2_grpc
from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2 as dpb
from trainvite.dispatcher.v1 import dispatcher_pb2_grpc
from trainvite.personalizer.v1 import personalizer_pb2 as pb
from trainvite.personalizer.v1 import personalizer_pb2_grpc

from bench.environment import BenchEnvironment, bench_environment
from bench.harness import start, wait_for_port
from services.common.auth import CallerKind, issue_token
from tests.helpers import free_port
from tools.seed import seed_all

SERVICES = ("catalog", "personalizer", "dispatcher")
CSMS = 4
# Each DraftInvitations goes to a customer not drafted before, so every batch has people to
# invite; there are more customers than a run at this rate can use.
CUSTOMERS = 6_000
PEOPLE_PER_CUSTOMER = 8
# The gateway's mix: weights per RPC.
MIX = {
    "SearchTrainingSessions": 20,
    "ListTrainingSessions": 15,
    "GetTrainingGaps": 20,
    "GetInvitationBatch": 15,
    "GetBatchDeliveryStatus": 15,
    "DraftInvitations": 6,
    "UpdateInvitationDraft": 5,
    "ApproveInvitationBatch": 4,
}
QUERIES = ("analytics", "dashboards", "reports scheduling", "automations", "sharing", "alerts")
# Resident memory may grow this much from the end of the warm-up to the end of the run.
RSS_MARGIN = 0.10
WARM_UP_SECONDS = 15.0

_PLATFORM = """
INSERT INTO platform.customers (id, display_name, csm_email, csm_name)
SELECT 'load-' || i, 'Load customer ' || i, 'csm' || (i % $2) || '@load.example',
       'CSM ' || (i % $2)
FROM generate_series(1, $1) i;

INSERT INTO platform.entitlements (customer_id, feature)
SELECT c.id, f FROM platform.customers c
CROSS JOIN unnest(ARRAY['dashboards', 'report_scheduling', 'sharing']) f
WHERE c.id LIKE 'load-%';

INSERT INTO platform.stakeholders (id, customer_id, display_name, email, role, title)
SELECT 'ls-' || c || '-' || p, 'load-' || c, 'Person ' || p,
       'person' || p || '@load-' || c || '.example',
       (ARRAY['operations_leader', 'data_analyst', 'team_lead'])[1 + p % 3], 'Staff'
FROM generate_series(1, $1) c CROSS JOIN generate_series(1, $2) p;
"""


def csm_email(i: int) -> str:
    return f"csm{i}@load.example"


async def add_customers(database_url: str) -> None:
    customers, entitlements, stakeholders = _PLATFORM.split(";\n\n")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(customers, CUSTOMERS, CSMS)
        await conn.execute(entitlements)
        await conn.execute(stakeholders, CUSTOMERS, PEOPLE_PER_CUSTOMER)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# Memory -------------------------------------------------------------------------------------
def rss_kib(pid: int) -> int:
    """VmRSS of one process, in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Child processes (render workers, say), recursively."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


@dataclass(frozen=True)
class Memory:
    process_kib: int
    with_children_kib: int

    @classmethod
    def of(cls, pid: int) -> Memory:
        own = rss_kib(pid)
        return cls(own, own + sum(rss_kib(c) for c in descendants(pid)))


# The load process -----------------------------------------------------------------------------
@dataclass
class Figures:
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    errors: collections.Counter[str] = field(default_factory=collections.Counter)


@dataclass
class GatewayState:
    """What the gateway's users have made so far: batches to review, batches approved."""

    fresh_customers: list[int]
    pending: list[tuple[int, pb.InvitationBatch]] = field(default_factory=list)
    approved: list[tuple[int, str]] = field(default_factory=list)
    # Batches with an edit in flight: not approved under it (the edit would then be refused).
    editing: collections.Counter[str] = field(default_factory=collections.Counter)


class Gateway:
    def __init__(self, ports: dict[str, int], key: str, rng: random.Random) -> None:
        self.channels = [grpc.aio.insecure_channel(f"127.0.0.1:{ports[n]}") for n in SERVICES]
        self.catalog = catalog_pb2_grpc.CatalogServiceStub(self.channels[0])
        self.personalizer = personalizer_pb2_grpc.PersonalizerServiceStub(self.channels[1])
        self.dispatcher = dispatcher_pb2_grpc.DispatcherServiceStub(self.channels[2])
        self.tokens = [
            (("authorization", f"Bearer {issue_token(key, csm_email(i), CallerKind.CSM)}"),)
            for i in range(CSMS)
        ]
        self.rng = rng
        customers = list(range(1, CUSTOMERS + 1))
        rng.shuffle(customers)
        self.state = GatewayState(customers)
        self.figures = Figures()

    def token(self, customer: int) -> tuple[tuple[str, str]]:
        return self.tokens[customer % CSMS]

    async def timed(self, rpc: str, make: Callable[[], Awaitable[object]]) -> object | None:
        started = time.perf_counter()
        try:
            result = await make()
        except grpc.aio.AioRpcError as exc:
            self.figures.errors[f"{rpc} {exc.code().name}"] += 1
            return None
        self.figures.latencies[rpc].append(time.perf_counter() - started)
        return result

    def _customer(self) -> int:
        """A customer someone has worked on, or any."""
        if self.state.approved and self.rng.random() < 0.5:
            return self.rng.choice(self.state.approved)[0]
        return self.rng.randrange(1, CUSTOMERS + 1)

    async def one(self) -> None:
        """One gateway call, picked by the mix (a write with nothing to act on reads instead)."""
        rpc = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        s, t = self.state, 10.0
        if rpc == "DraftInvitations" and s.fresh_customers:
            customer = s.fresh_customers.pop()
            batch = await self.timed(
                rpc,
                lambda: self.personalizer.DraftInvitations(
                    pb.DraftInvitationsRequest(
                        parent=f"customers/load-{customer}",
                        topic="Advanced Analytics",
                        request_id=uuid.uuid4().hex,
                        view=pb.INVITATION_BATCH_VIEW_BASIC,
                    ),
                    metadata=self.token(customer),
                    timeout=t,
                ),
            )
            if isinstance(batch, pb.InvitationBatch) and batch.drafts:
                s.pending.append((customer, batch))
        elif rpc == "UpdateInvitationDraft" and s.pending:
            customer, batch = self.rng.choice(s.pending)
            draft = self.rng.choice(batch.drafts)
            edit = pb.InvitationDraft(
                name=draft.name,
                content=common_pb2.InvitationContent(
                    subject=f"A session picked for you, {draft.recipient.display_name}"
                ),
            )
            s.editing[batch.name] += 1
            try:
                await self.timed(
                    rpc,
                    lambda: self.personalizer.UpdateInvitationDraft(
                        pb.UpdateInvitationDraftRequest(
                            draft=edit, update_mask=FieldMask(paths=["content.subject"])
                        ),
                        metadata=self.token(customer),
                        timeout=t,
                    ),
                )
            finally:
                s.editing[batch.name] -= 1
        elif rpc == "ApproveInvitationBatch" and any(not s.editing[b.name] for _, b in s.pending):
            i = next(i for i, (_, b) in enumerate(s.pending) if not s.editing[b.name])
            customer, batch = s.pending.pop(i)
            approved = await self.timed(
                rpc,
                lambda: self.personalizer.ApproveInvitationBatch(
                    pb.ApproveInvitationBatchRequest(name=batch.name),
                    metadata=self.token(customer),
                    timeout=t,
                ),
            )
            if approved is not None:
                s.approved.append((customer, batch.name))
        elif rpc == "GetInvitationBatch" and (s.approved or s.pending):
            customer, name = self.rng.choice(s.approved or [(c, b.name) for c, b in s.pending])
            await self.timed(
                rpc,
                lambda: self.personalizer.GetInvitationBatch(
                    pb.GetInvitationBatchRequest(name=name, view=pb.INVITATION_BATCH_VIEW_BASIC),
                    metadata=self.token(customer),
                    timeout=t,
                ),
            )
        elif rpc == "GetBatchDeliveryStatus" and s.approved:
            customer, name = self.rng.choice(s.approved)
            await self.timed(
                rpc,
                lambda: self.dispatcher.GetBatchDeliveryStatus(
                    dpb.GetBatchDeliveryStatusRequest(name=f"{name}/delivery-status"),
                    metadata=self.token(customer),
                    timeout=t,
                ),
            )
        elif rpc == "GetTrainingGaps":
            customer = self._customer()
            await self.timed(
                rpc,
                lambda: self.personalizer.GetTrainingGaps(
                    pb.GetTrainingGapsRequest(name=f"customers/load-{customer}/training-gaps"),
                    metadata=self.token(customer),
                    timeout=t,
                ),
            )
        elif rpc == "ListTrainingSessions":
            await self.timed(
                rpc,
                lambda: self.catalog.ListTrainingSessions(
                    cpb.ListTrainingSessionsRequest(page_size=20),
                    metadata=self.tokens[0],
                    timeout=t,
                ),
            )
        else:
            query = self.rng.choice(QUERIES)
            await self.timed(
                "SearchTrainingSessions",
                lambda: self.catalog.SearchTrainingSessions(
                    cpb.SearchTrainingSessionsRequest(query=query, page_size=10),
                    metadata=self.tokens[0],
                    timeout=t,
                ),
            )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


def _quantiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        only = values[0] if values else 0.0
        return only, only
    q = statistics.quantiles(values, n=100)
    return q[49], q[98]


async def drive(
    ports: dict[str, int], key: str, seconds: float, concurrency: int, marks_file: Path
) -> dict[str, object]:
    """The load process: `concurrency` gateway users for `seconds`; the figures as a dict.

    Writes "warm" to `marks_file` after the warm-up, so the parent can read memory then.
    """
    gateway = Gateway(ports, key, random.Random(7))
    warm_up = min(WARM_UP_SECONDS, seconds / 4)
    try:
        deadline = time.perf_counter() + warm_up

        async def user(until: float) -> None:
            while time.perf_counter() < until:
                await gateway.one()

        await asyncio.gather(*(user(deadline) for _ in range(concurrency)))
        marks_file.write_text("warm")  # noqa: ASYNC240 - a few bytes between phases
        gateway.figures = Figures()
        started = time.perf_counter()
        await asyncio.gather(*(user(started + seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await gateway.close()
    per_rpc = {}
    for rpc, values in sorted(gateway.figures.latencies.items()):
        p50, p99 = _quantiles(values)
        per_rpc[rpc] = {
            "requests": len(values),
            "rps": len(values) / elapsed,
            "p50_ms": p50 * 1000,
            "p99_ms": p99 * 1000,
        }
    return {
        "seconds": elapsed,
        "rpcs": per_rpc,
        "errors": dict(gateway.figures.errors),
        "batches_approved": len(gateway.state.approved),
    }


# The run ------------------------------------------------------------------------------------
def _wait_serving(port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"the service on {port} did not report SERVING")


def _stop(children: dict[str, subprocess.Popen[bytes]], work_dir: Path) -> None:
    """SIGTERM each service; one still running a minute later is killed and named, with the
    end of its log."""
    for child in children.values():
        child.send_signal(signal.SIGTERM)
    for name, child in children.items():
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)
            log = (work_dir / f"{name}.log").read_text(errors="replace")[-3000:]
            print(f"!! {name} did not stop within 60 s of SIGTERM; the end of its log:\n{log}")


def _mib(kib: int) -> str:
    return f"{kib / 1024:7.1f}"


def run(env: BenchEnvironment, seconds: float, concurrency: int) -> bool:
    """One load run; False when memory grew beyond the margin or a call failed."""
    asyncio.run(seed_all(env.database_url))
    asyncio.run(add_customers(env.database_url))
    key = "load-key-" + uuid.uuid4().hex
    ports = {n: free_port() for n in SERVICES}
    common = {
        "DATABASE_URL": env.database_url,
        "NATS_URL": env.nats_url,
        "JWT_SECRET": key,
        "EVENT_NAMESPACE": f"load{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": "WARNING",
        "CATALOG_ADDRESS": f"127.0.0.1:{ports['catalog']}",
        "OUTBOX_DIR": str(env.work_dir / "outbox"),
    }
    children = {
        n: start(
            ["-m", f"services.{n}"],
            {**common, "GRPC_PORT": str(ports[n])},
            env.work_dir / f"{n}.log",
        )
        for n in SERVICES
    }
    marks = env.work_dir / "marks"
    try:
        for name in SERVICES:
            wait_for_port(ports[name], children[name])
            _wait_serving(ports[name])
        at_start = {n: Memory.of(c.pid) for n, c in children.items()}
        load_before = os.getloadavg()[0]
        load_process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.gateway_load",
                "--drive",
                json.dumps(ports),
                "--key",
                key,
                "--seconds",
                str(seconds),
                "--concurrency",
                str(concurrency),
                "--marks",
                str(marks),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        while not marks.exists() and load_process.poll() is None:
            time.sleep(0.2)
        after_warm_up = {n: Memory.of(c.pid) for n, c in children.items()}
        out, _ = load_process.communicate(timeout=seconds * 3 + 600)
        if load_process.returncode != 0:
            raise RuntimeError(f"the load process exited with {load_process.returncode}")
        at_end = {n: Memory.of(c.pid) for n, c in children.items()}
        load_after = os.getloadavg()[0]
        figures = json.loads(out.strip().splitlines()[-1])
    finally:
        _stop(children, env.work_dir)

    rpcs: dict[str, dict[str, float]] = figures["rpcs"]
    total = sum(r["requests"] for r in rpcs.values())
    print(
        f"\n{figures['seconds']:.0f} s after a {min(WARM_UP_SECONDS, seconds / 4):.0f} s warm-up, "
        f"{concurrency} gateway users, {CSMS} CSMs: {total:,} calls, "
        f"{total / figures['seconds']:,.0f} req/s, {figures['batches_approved']} batches approved"
    )
    print(
        f"  machine: {os.cpu_count()} cores, load average {load_before:.1f} before the run, "
        f"{load_after:.1f} at its end"
    )
    print(f"  {'rpc':<24} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for rpc, r in rpcs.items():
        print(
            f"  {rpc:<24} {int(r['requests']):>9,} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f}"
        )
    errors: dict[str, int] = figures["errors"]
    print(f"  errors: {errors or 'none'}")
    print("  resident memory (MiB): start / after warm-up / end, with render workers at the end")
    grew = []
    for name in SERVICES:
        warm, end = after_warm_up[name].process_kib, at_end[name].process_kib
        flag = ""
        if end > warm * (1 + RSS_MARGIN):
            grew.append(name)
            flag = f"  GREW {100 * (end / warm - 1):.0f}% after the warm-up"
        print(
            f"  {name:<13} {_mib(at_start[name].process_kib)} / {_mib(warm)} / {_mib(end)}"
            f"   ({_mib(at_end[name].with_children_kib).strip()} with children){flag}"
        )
    print(f"  memory growth beyond {RSS_MARGIN:.0%} after the warm-up: {grew or 'none'}")
    return not grew and not errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("LOAD_SECONDS", "180"))
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--marks", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        figures = uvloop.run(
            drive(
                json.loads(args.drive), args.key, args.seconds, args.concurrency, Path(args.marks)
            )
        )
        print(json.dumps(figures))
        return
    print(f"== gateway load: the gateway's mix for {args.seconds:.0f} s ==")
    with bench_environment() as env:
        ok = run(env, args.seconds, args.concurrency)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
