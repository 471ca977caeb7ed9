"""SIGKILL the dispatcher again and again while it sends a 500-invitation batch through Gmail:
every invitation still reaches its recipient exactly once."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from trainvite.dispatcher.v1 import dispatcher_pb2 as dpb
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.migrations import apply_all
from tests.e2e.test_chat_flow import ROOT
from tests.fakes.gmail import Behaviour, FakeGmail, token_file
from tests.helpers import clients, free_port, wait_until_serving
from tools import stack
from tools.run import service_environment
from tools.seed import seed_all

pytestmark = pytest.mark.e2e

CSM = "alex.rivera@trainvite.dev"
PEOPLE = 500
KILLS = int(os.environ.get("CRASH_KILLS", "8"))


@pytest.fixture
def crash_database(postgres_admin_url: str, namespace: str) -> Iterator[str]:
    name = f"trainvite_crash_{namespace}"
    url = stack.create_database(postgres_admin_url, name)
    apply_all(url)
    asyncio.run(seed_all(url))
    asyncio.run(_add_customer(url))
    yield url
    stack.drop_database(postgres_admin_url, name)


async def _add_customer(url: str) -> None:
    """A customer of Alex's with 500 analysts, leads and ops leaders, all fit for the course."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """
            INSERT INTO platform.customers (id, display_name, csm_email, csm_name)
            VALUES ('crashco', 'CrashCo', $1, 'Alex Rivera');
            INSERT INTO platform.entitlements (customer_id, feature)
            VALUES ('crashco', 'dashboards'), ('crashco', 'report_scheduling'),
                   ('crashco', 'sharing');
            """.replace("$1", "'" + CSM + "'")
        )
        await conn.execute(
            """
            INSERT INTO platform.stakeholders (id, customer_id, display_name, email, role, title)
            SELECT 'cc-' || i, 'crashco', 'Person ' || i, 'person' || i || '@crashco.example',
                   (ARRAY['operations_leader', 'data_analyst', 'team_lead'])[1 + i % 3], 'Staff'
            FROM generate_series(1, $1) i
            """,
            PEOPLE,
        )
    finally:
        await conn.close()


def _start(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )


async def test_sigkill_during_sending_loses_and_duplicates_nothing(
    crash_database: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    key_file = tmp_path / "key"
    key_file.write_text("crash-signing-key-" + namespace + "-0123456789abcdef")
    ports = {"catalog": free_port(), "personalizer": free_port(), "dispatcher": free_port()}
    with FakeGmail(Behaviour()) as gmail:
        envs = service_environment(crash_database, nats_url, str(key_file))
        for name, env in envs.items():
            env.update(
                {
                    "GRPC_PORT": str(ports[name]),
                    "EVENT_NAMESPACE": namespace,
                    "CATALOG_ADDRESS": f"127.0.0.1:{ports['catalog']}",
                    "LOG_LEVEL": "WARNING",
                }
            )
        envs["dispatcher"].update(
            {
                "MAIL_SENDER": "gmail",
                "GMAIL_TOKEN_FILE": str(token_file(tmp_path / "token.json", CSM)),
                "GMAIL_API_ENDPOINT": gmail.url,
                "CLAIM_LEASE_SECONDS": "2",
                "UNKNOWN_OUTCOME_SETTLE_SECONDS": "1",
                "SHUTDOWN_GRACE_SECONDS": "1",
            }
        )
        children = {n: _start(n, env, tmp_path / f"{n}.log") for n, env in envs.items()}
        c = clients({n: f"127.0.0.1:{p}" for n, p in ports.items()}, key_file.read_text())
        try:
            await wait_until_serving(c, [])
            batch = await c.personalizer.DraftInvitations(
                pb.DraftInvitationsRequest(
                    parent="customers/crashco",
                    topic="Advanced Analytics",
                    view=pb.INVITATION_BATCH_VIEW_BASIC,
                ),
                metadata=c.csm,
                timeout=60,
            )
            assert len(batch.drafts) == PEOPLE
            await c.personalizer.ApproveInvitationBatch(
                pb.ApproveInvitationBatchRequest(name=batch.name), metadata=c.csm, timeout=60
            )
            status_name = f"{batch.name}/delivery-status"

            async def status() -> dpb.BatchDeliveryStatus:
                return await c.dispatcher.GetBatchDeliveryStatus(
                    dpb.GetBatchDeliveryStatusRequest(name=status_name),
                    metadata=c.csm,
                    timeout=10,
                )

            kills = 0
            delivered_at_kill = []
            while kills < KILLS:
                await asyncio.sleep(rng.uniform(0.05, 0.6))
                delivered_at_kill.append(len(gmail.delivered(CSM)))
                children["dispatcher"].send_signal(signal.SIGKILL)
                children["dispatcher"].wait(10)
                kills += 1
                children["dispatcher"] = _start(
                    "dispatcher", envs["dispatcher"], tmp_path / "dispatcher.log"
                )
                await wait_until_serving(c, [])
            for _ in range(600):
                try:
                    current = await status()
                except Exception:
                    await asyncio.sleep(0.2)
                    continue
                if current.sent_count == PEOPLE:
                    break
                await asyncio.sleep(0.2)
            assert current.sent_count == PEOPLE, (seed, current.sent_count, current.pending_count)
            # The kills landed while the batch was being sent, not before or after it.
            assert any(0 < n < PEOPLE for n in delivered_at_kill), delivered_at_kill
        finally:
            await c.close()
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
                    child.wait(30)

        copies = collections.Counter(m.message_id for m in gmail.delivered(CSM))
        recipients = collections.Counter(m.to for m in gmail.delivered(CSM))
        assert len(copies) == PEOPLE and set(copies.values()) == {1}, (seed, copies.most_common(3))
        assert len(recipients) == PEOPLE and set(recipients.values()) == {1}, seed
        assert gmail.sends >= PEOPLE
