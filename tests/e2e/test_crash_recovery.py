"""SIGKILL the dispatcher again and again while it sends a batch of a few hundred invitations
through Gmail: every invitation still reaches its recipient exactly once."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
from pathlib import Path

import pytest
from trainvite.dispatcher.v1 import dispatcher_pb2 as dpb
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from tests.e2e.processes import (
    add_customer,
    gmail_dispatcher,
    service_environments,
    start_service,
)
from tests.fakes.gmail import Behaviour, FakeGmail, token_file
from tests.helpers import clients, free_port, wait_until_serving
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.e2e

CSM = "alex.rivera@trainvite.dev"
# 250 leave each of the 5 kills time to land mid-batch; `make chaos` sends 1,000 with 20.
PEOPLE = int(os.environ.get("CRASH_PEOPLE", "250"))
KILLS = int(os.environ.get("CRASH_KILLS", "5"))


@pytest.fixture
def crash_database(fresh_database_url: str) -> str:
    asyncio.run(add_customer(fresh_database_url, "crashco", CSM, "Alex Rivera", PEOPLE))
    return fresh_database_url


async def test_sigkill_during_sending_loses_and_duplicates_nothing(
    crash_database: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    key_file = tmp_path / "key"
    key_file.write_text("crash-signing-key-" + namespace + "-0123456789abcdef")
    ports = {"catalog": free_port(), "personalizer": free_port(), "dispatcher": free_port()}
    with FakeGmail(Behaviour()) as gmail:
        envs = service_environments(crash_database, nats_url, key_file, namespace, ports)
        envs["dispatcher"].update(
            gmail_dispatcher(gmail.url, token_file(tmp_path / "token.json", CSM))
        )
        children = {n: start_service(n, env, tmp_path / f"{n}.log") for n, env in envs.items()}
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
                children["dispatcher"] = start_service(
                    "dispatcher", envs["dispatcher"], tmp_path / "dispatcher.log"
                )
                await wait_until_serving(c, [])

            async def all_sent() -> dpb.BatchDeliveryStatus | NotYet:
                current = await status()  # raises while the last dispatcher starts
                done = current.sent_count == PEOPLE
                return current if done else NotYet((current.sent_count, current.pending_count))

            await wait_for(all_sent, f"all {PEOPLE} sent (seed {seed})", timeout=120, interval=0.2)
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
