"""Restarts under load: PostgreSQL and NATS go away and come back, and each service is SIGKILLed
several times, while batches are drafted, approved and sent and attendance events arrive.

Each service must come back by itself once its servers are back (the test restarts a service
only after killing it, as a supervisor would), answer UNAVAILABLE meanwhile (never UNKNOWN or
INTERNAL), report NOT_SERVING while PostgreSQL is gone, lose nothing it acknowledged and send
nothing twice.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from services.common.messaging.topology import Topology
from services.common.migrations import apply_all
from services.platform.seed import CSM_EMAIL
from tests.chaos.conftest import ChaosProfile
from tests.chaos.flow import Flow, Observations, chaos_clients
from tests.chaos.servers import OwnNats, OwnPostgres
from tests.e2e.processes import (
    SERVICE_NAMES,
    add_customer,
    gmail_dispatcher,
    service_environments,
    start_service,
)
from tests.fakes.gmail import FakeGmail, StoredMessage, token_file
from tests.helpers import free_port
from tools import stack
from tools.seed import seed_all

pytestmark = pytest.mark.chaos

# Seconds a service has to report SERVING again once its servers are back or it was restarted.
RECOVERY_LIMIT_SECONDS = 60.0
# Seconds the dispatcher and the consumers have to catch up once the faults are over.
DRAIN_LIMIT_SECONDS = 120.0


@dataclass
class OwnStack:
    postgres: OwnPostgres
    nats: OwnNats
    database_url: str
    customers: list[str]


@pytest.fixture
def own_stack(tmp_path: Path, chaos_profile: ChaosProfile) -> Iterator[OwnStack]:
    """A PostgreSQL and a NATS of this test's own, seeded, with customers enough to invite.

    PostgreSQL's data lives outside pytest's temporary folders: every pytest run makes their
    root private again, and the server (an unprivileged user when tests run as root) would then
    no longer reach its own data folder.
    """
    pg_dir = Path(tempfile.mkdtemp(prefix="trainvite-chaos-"))
    postgres = OwnPostgres(pg_dir / "pg")
    nats_server = None
    try:
        nats_server = OwnNats(tmp_path / "nats", free_port())
        url = stack.create_database(postgres.admin_url, "trainvite_chaos")
        apply_all(url)
        asyncio.run(seed_all(url))
        customers = [f"chaos{i:03d}" for i in range(chaos_profile.customers)]

        async def add_all() -> None:
            for customer in customers:
                await add_customer(
                    url, customer, CSM_EMAIL, "Alex Rivera", chaos_profile.people_per_customer
                )

        asyncio.run(add_all())
        yield OwnStack(postgres, nats_server, url, customers)
    finally:
        if nats_server is not None:
            nats_server.stop()
        postgres.close()
        shutil.rmtree(pg_dir, ignore_errors=True)


@dataclass
class Supervisor:
    """Starts the services, restarts one it killed, and notes any that exited by itself (that
    one is restarted too, so the run goes on, and the test fails)."""

    envs: dict[str, dict[str, str]]
    log_dir: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: collections.Counter[str] = field(default_factory=collections.Counter)
    # (service, exit code, seconds into the run)
    exits: list[tuple[str, int, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _killing: set[str] = field(default_factory=set)

    def start(self, name: str) -> None:
        self.children[name] = start_service(name, self.envs[name], self.log_dir / f"{name}.log")

    def start_all(self) -> None:
        for name in SERVICE_NAMES:
            self.start(name)

    async def kill(self, name: str) -> None:
        self._killing.add(name)
        try:
            child = self.children[name]
            child.send_signal(signal.SIGKILL)
            await asyncio.to_thread(child.wait, 10)
            self.kills[name] += 1
            self.start(name)
        finally:
            self._killing.discard(name)

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for name, child in list(self.children.items()):
                code = child.poll()
                if code is not None and name not in self._killing:
                    self.exits.append((name, code, time.monotonic() - self.started))
                    await asyncio.sleep(1)
                    self.start(name)
            await asyncio.sleep(0.2)

    def stop_all(self) -> dict[str, int | None]:
        """SIGTERM each service; their exit codes (None: killed after 30 s)."""
        codes: dict[str, int | None] = {}
        for name, child in self.children.items():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
            try:
                codes[name] = child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                codes[name] = None
        return codes


@dataclass
class Outage:
    server: str
    stopped_at: float
    started_at: float
    # Service -> NOT_SERVING, SERVING, UNAVAILABLE... as health answered during the outage.
    statuses: dict[str, set[str]]
    # Service -> seconds from the server's return to SERVING; None if it did not recover.
    recovered_after: dict[str, float | None]


async def _serving_since(flow: Flow, service: str, since: float) -> float | None:
    """Seconds after `since` until health reported SERVING, waiting up to the limit."""
    deadline = since + RECOVERY_LIMIT_SECONDS
    while time.monotonic() < deadline:
        for sample in flow.seen.health:
            if sample.service == service and sample.at > since and sample.status == "SERVING":
                return sample.at - since
        await asyncio.sleep(0.2)
    return None


async def _outage(
    flow: Flow, server: str, stop_server: object, start_server: object, seconds: float
) -> Outage:
    assert callable(stop_server) and callable(start_server)
    stopped_at = time.monotonic()
    await asyncio.to_thread(stop_server)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(start_server)
    started_at = time.monotonic()
    statuses = {n: flow.seen.statuses_between(n, stopped_at, started_at) for n in SERVICE_NAMES}
    recovered = await asyncio.gather(*(_serving_since(flow, n, started_at) for n in SERVICE_NAMES))
    return Outage(
        server, stopped_at, started_at, statuses, dict(zip(SERVICE_NAMES, recovered, strict=True))
    )


async def _faults(
    profile: ChaosProfile, own: OwnStack, flow: Flow, supervisor: Supervisor
) -> tuple[list[Outage], list[float | None]]:
    """The rounds of faults; the outages, and each killed service's time back to SERVING."""
    outages: list[Outage] = []
    restarts: list[float | None] = []

    async def kill_each() -> None:
        for name in SERVICE_NAMES:
            await asyncio.sleep(flow.rng.uniform(0.5, 1.5) * profile.gap_seconds / 2)
            await supervisor.kill(name)
            restarts.append(await _serving_since(flow, name, time.monotonic()))

    for _ in range(profile.rounds):
        await asyncio.sleep(profile.gap_seconds)
        outages.append(
            await _outage(
                flow, "PostgreSQL", own.postgres.stop, own.postgres.start, profile.outage_seconds
            )
        )
        for k in range(profile.kills_per_round):
            await kill_each()
            if k == 0:
                await asyncio.sleep(profile.gap_seconds)
                outages.append(
                    await _outage(
                        flow, "NATS", own.nats.stop, own.nats.start, profile.outage_seconds
                    )
                )
    await asyncio.sleep(profile.gap_seconds)
    return outages, restarts


def _address(message: StoredMessage) -> str:
    return email.utils.parseaddr(message.to)[1].lower()


async def _delivered(gmail: FakeGmail, expected: set[str]) -> list[StoredMessage]:
    """The messages sent, once every expected recipient has one or the limit has passed."""
    deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
    while True:
        messages = gmail.delivered(CSM_EMAIL)
        if expected <= {_address(m) for m in messages} or time.monotonic() > deadline:
            # A moment more, so that a second copy on its way would be seen too.
            await asyncio.sleep(2)
            return gmail.delivered(CSM_EMAIL)
        await asyncio.sleep(0.5)


async def _delivery_states(database_url: str) -> dict[str, int]:
    """The dispatcher's deliveries by state: what is still pending when a recipient is missing."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT state, count(*) FROM dispatcher.deliveries GROUP BY state")
        return {r["state"]: r["count"] for r in rows}
    finally:
        await conn.close()


async def _recorded(database_url: str, event_ids: set[str]) -> dict[str, set[str]]:
    """Per consuming schema, which of the events it recorded as processed."""
    ids = [uuid.UUID(e) for e in event_ids]
    deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            found = {}
            for schema in ("personalizer", "catalog"):
                rows = await conn.fetch(
                    f"SELECT event_id FROM {schema}.processed_events "  # noqa: S608 - fixed names
                    "WHERE event_id = ANY($1::uuid[])",
                    ids,
                )
                found[schema] = {str(r["event_id"]) for r in rows}
            if all(len(f) == len(ids) for f in found.values()) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(1)
    finally:
        await conn.close()


@pytest.fixture
async def running(
    own_stack: OwnStack, tmp_path: Path
) -> AsyncIterator[tuple[Supervisor, FakeGmail, dict[str, int], str]]:
    """The three services as processes on the test's own servers, sending through a fake
    Gmail."""
    key = "chaos-signing-key-" + uuid.uuid4().hex
    key_file = tmp_path / "key"
    key_file.write_text(key)
    ports = {n: free_port() for n in SERVICE_NAMES}
    with FakeGmail() as gmail:
        envs = service_environments(
            own_stack.database_url, own_stack.nats.url, key_file, "chaos", ports
        )
        envs["dispatcher"].update(
            gmail_dispatcher(gmail.url, token_file(tmp_path / "token.json", CSM_EMAIL))
        )
        supervisor = Supervisor(envs, tmp_path)
        supervisor.start_all()
        try:
            yield supervisor, gmail, ports, key
        finally:
            supervisor.stop_all()


def _summary(
    profile: ChaosProfile,
    seen: Observations,
    supervisor: Supervisor,
    outages: list[Outage],
    restarts: list[float | None],
    messages: list[StoredMessage],
    deliveries: dict[str, int],
    recorded: dict[str, set[str]],
    elapsed: float,
) -> str:
    def secs(value: float | None) -> str:
        return "never" if value is None else f"{value:.1f} s"

    lines = [
        f"chaos ({profile.name}): {elapsed:.0f} s, {sum(seen.calls.values())} calls, "
        f"{len(seen.approved)} batches approved with {len(seen.approved_recipients)} invitations, "
        f"{len(messages)} messages sent ({len({m.message_id for m in messages})} Message-IDs, "
        f"{len({_address(m) for m in messages})} recipients); the dispatcher's deliveries: "
        f"{deliveries}",
        f"  attendance: {len(seen.published)} events acknowledged by JetStream "
        f"({seen.publish_failures} publish attempts failed), recorded by the personalizer "
        f"{len(recorded['personalizer'])}, by the catalog {len(recorded['catalog'])}",
        f"  kills: {dict(supervisor.kills)}; back to SERVING after "
        + ", ".join(secs(r) for r in restarts),
    ]
    for o in outages:
        lines.append(
            f"  {o.server} down {o.started_at - o.stopped_at:.1f} s: health meanwhile "
            + "; ".join(f"{n} {sorted(s)}" for n, s in o.statuses.items())
            + "; SERVING again after "
            + ", ".join(f"{n} {secs(r)}" for n, r in o.recovered_after.items())
        )
    lines.append(f"  answers other than OK: {dict(seen.codes())}")
    for code in sorted(seen.codes()):
        lines.append(f"    {code}: {seen.rpcs_answering(code)}")
    if supervisor.exits:
        lines.append(f"  exited by themselves (service, code, s): {supervisor.exits}")
    if seen.gave_up:
        lines.append(f"  never acknowledged: {seen.gave_up[:5]} ({len(seen.gave_up)})")
    return "\n".join(lines)


async def test_restarts_under_load_lose_and_duplicate_nothing(
    own_stack: OwnStack,
    running: tuple[Supervisor, FakeGmail, dict[str, int], str],
    chaos_profile: ChaosProfile,
    capsys: pytest.CaptureFixture[str],
) -> None:
    supervisor, gmail, ports, key = running
    seed = random.randrange(1_000_000)
    started = time.monotonic()
    clients = chaos_clients(ports, key)
    flow = Flow(
        clients,
        own_stack.nats.url,
        Topology("chaos"),
        own_stack.customers,
        chaos_profile.pace_seconds,
        random.Random(seed),
    )
    tasks: list[asyncio.Task[None]] = []
    try:
        health = asyncio.create_task(flow.health())
        tasks.append(health)
        for name in SERVICE_NAMES:
            assert await _serving_since(flow, name, started) is not None, f"{name} never started"
        tasks += [
            asyncio.create_task(flow.drafter()),
            asyncio.create_task(flow.reader()),
            asyncio.create_task(flow.attendance(chaos_profile.attendance_interval_seconds)),
            asyncio.create_task(supervisor.watch(flow.stop)),
        ]
        outages, restarts = await _faults(chaos_profile, own_stack, flow, supervisor)
        flow.stop.set()
        await asyncio.gather(*tasks)
        expected = flow.seen.approved_recipients
        messages = await _delivered(gmail, expected)
        recorded = await _recorded(own_stack.database_url, flow.seen.published)
        deliveries = await _delivery_states(own_stack.database_url)
    finally:
        flow.stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await clients.close()

    summary = _summary(
        chaos_profile,
        flow.seen,
        supervisor,
        outages,
        restarts,
        messages,
        deliveries,
        recorded,
        time.monotonic() - started,
    )
    with capsys.disabled():
        print("\n" + summary)
    context = f"seed {seed}\n{summary}"

    # Each service came back by itself, and none exited on its own.
    assert not supervisor.exits, context
    for outage in outages:
        assert all(r is not None for r in outage.recovered_after.values()), context
        if outage.server == "PostgreSQL":
            assert all("NOT_SERVING" in s for s in outage.statuses.values()), context
    assert all(r is not None for r in restarts), context
    # Outages and kills answered UNAVAILABLE, and nothing else went wrong.
    assert set(flow.seen.codes()) <= {"UNAVAILABLE"}, context
    assert not flow.seen.gave_up, context
    # Nothing acknowledged was lost: each approved invitation went out, each event was recorded.
    assert expected and {_address(m) for m in messages} == expected, context
    assert flow.seen.published, context
    assert recorded["personalizer"] == flow.seen.published, context
    assert recorded["catalog"] == flow.seen.published, context
    # Nothing went out twice: once per Message-ID, once per recipient (each person is invited to
    # one session here, so this is once per recipient and session).
    copies = collections.Counter(m.message_id for m in messages)
    assert set(copies.values()) == {1}, (copies.most_common(3), context)
    per_recipient = collections.Counter(_address(m) for m in messages)
    assert set(per_recipient.values()) == {1}, (per_recipient.most_common(3), context)
