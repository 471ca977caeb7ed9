"""The PRD's chat flow against the three services running as processes, as `make run` starts them.

Checks what reaches the recipients: the .eml files the dispatcher's local sender writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from trainvite.dispatcher.v1 import dispatcher_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.auth import CallerKind, issue_token
from services.platform.seed import CSM_EMAIL
from tests.helpers import Clients, clients, free_port, wait_until_serving
from tests.mail_checks import check_raw_message
from tests.waiting import NotYet, wait_for
from tools import call, demo
from tools.run import edge_environment, service_environment

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def e2e_database(fresh_database_url: str) -> str:
    """A database of this test's own, so no earlier approval counts as an invitation."""
    return fresh_database_url


@dataclass(frozen=True)
class Running:
    clients: Clients
    outbox: Path
    endpoints: dict[str, str]
    key: str
    zoom_secret: str


@pytest.fixture
async def processes(
    e2e_database: str, nats_url: str, namespace: str, tmp_path: Path
) -> AsyncIterator[Running]:
    """The three services and the HTTP edge as `make run` starts them, on ports of their own."""
    key_file = tmp_path / "key"
    key_file.write_text("e2e-signing-key-" + namespace + "-0123456789abcdef")
    zoom_secret = "e2e-zoom-secret-" + namespace
    ports = {"catalog": free_port(), "personalizer": free_port(), "dispatcher": free_port()}
    edge_url = f"http://127.0.0.1:{free_port()}"
    envs = {
        **service_environment(e2e_database, nats_url, str(key_file)),
        "edge": edge_environment(str(key_file), nats_url, zoom_secret),
    }
    outbox = tmp_path / "outbox"
    children = {}
    for name, env in envs.items():
        env = {
            **os.environ,
            **env,
            "EVENT_NAMESPACE": namespace,
            "OUTBOX_DIR": str(outbox),
            "CATALOG_ADDRESS": f"127.0.0.1:{ports['catalog']}",
            "DISPATCHER_ADDRESS": f"127.0.0.1:{ports['dispatcher']}",
            "REGISTRATION_BASE_URL": edge_url,
            "UNSUBSCRIBE_BASE_URL": f"{edge_url}/unsubscribe",
        }
        if name == "edge":
            env["HTTP_PORT"] = edge_url.rsplit(":", 1)[1]
        else:
            env["GRPC_PORT"] = str(ports[name])
        children[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=ROOT,
            env=env,
            stdout=open(tmp_path / f"{name}.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
    endpoints = {**{n: f"127.0.0.1:{p}" for n, p in ports.items()}, "edge": edge_url}
    c = clients(endpoints, key_file.read_text())
    try:
        await wait_until_serving(c, [])
        await wait_for(lambda: _healthy(edge_url), "the edge answering /healthz", timeout=30)
        yield Running(c, outbox, endpoints, key_file.read_text(), zoom_secret)
    finally:
        await c.close()
        for child in children.values():
            child.send_signal(signal.SIGTERM)
        codes = {name: child.wait(30) for name, child in children.items()}
        # uvicorn stops gracefully, then dies of the signal it caught, as its parent expects.
        expected = {name: -signal.SIGTERM if name == "edge" else 0 for name in children}
        assert codes == expected, {n: (tmp_path / f"{n}.log").read_text()[-2000:] for n in children}


async def _healthy(edge_url: str) -> bool | NotYet:
    async with httpx.AsyncClient() as http:  # refused while starting: wait_for tries again
        answer = await http.get(f"{edge_url}/healthz")
    return True if answer.status_code == 200 else NotYet(answer.status_code)


def _read(outbox: Path) -> list[EmailMessage]:
    return [check_raw_message(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))]


async def test_invite_cloudtech_team_then_send_all(processes: Running) -> None:
    c, outbox = processes.clients, processes.outbox
    # "Invite CloudTech team to Advanced Analytics training"
    batch = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/cloudtech", topic="Advanced Analytics"),
        metadata=c.csm,
    )
    assert len(batch.drafts) == 3
    # "Send All"
    await c.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name, etag=batch.etag), metadata=c.csm
    )

    async def all_sent() -> dispatcher_pb2.BatchDeliveryStatus | NotYet:
        status = await c.dispatcher.GetBatchDeliveryStatus(
            dispatcher_pb2.GetBatchDeliveryStatusRequest(name=f"{batch.name}/delivery-status"),
            metadata=c.csm,
        )
        return status if status.sent_count == 3 else NotYet(status)

    await wait_for(all_sent, "the three invitations sent", timeout=30, interval=0.1)

    messages = _read(outbox)
    assert len(messages) == 3
    to = {str(m["To"].addresses[0].addr_spec): m for m in messages}
    assert set(to) == {
        "sarah.chen@cloudtech.example",
        "mike.johnson@cloudtech.example",
        "lisa.park@cloudtech.example",
    }
    assert "tom.becker@cloudtech.example" not in to  # opted out
    bodies = {addr: m.get_body(("plain",)).get_content() for addr, m in to.items()}  # type: ignore[union-attr]
    assert bodies["sarah.chen@cloudtech.example"].startswith("Hi Sarah,")
    assert bodies["mike.johnson@cloudtech.example"].startswith("Hi Mike,")
    assert bodies["lisa.park@cloudtech.example"].startswith("Hi Lisa,")
    assert len({str(m["Subject"]) for m in messages}) == 3
    for draft in batch.drafts:
        message = to[draft.recipient.email]
        assert str(message["Subject"]) == draft.content.subject
        assert draft.registration_url in bodies[draft.recipient.email]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert str(message["From"]) == "Alex Rivera <alex.rivera@trainvite.dev>"
        calendar = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        assert calendar and "METHOD:REQUEST" in calendar[0].get_content()


async def test_make_demo_twice(
    processes: Running, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make demo` shows: the reasons in plain words, each invitation's other dates fit
    for its reader, who was sent what after Send All; a second run sends nothing and leaves
    no empty batch waiting for review."""
    monkeypatch.setenv("JWT_SECRET", processes.key)
    assert (
        await demo.play(
            demo.DEFAULT_REQUEST, CSM_EMAIL, processes.endpoints, 30, processes.zoom_secret
        )
        == 0
    )
    first = capsys.readouterr().out
    assert "Score" not in first and "below" not in first
    assert "Priya Nair" in first and "Poor fit: " in first
    mike = first.split("Invitation to Mike Johnson")[1].split("---")[1]
    assert "Fundamentals" not in mike  # no beginner course offered to a power user
    report = first.split("Delivery status:")[1]
    for name in ("Sarah Chen", "Mike Johnson", "Lisa Park"):
        assert f"- {name} <" in report
    assert report.count(", sent at ") == 3 and ".eml" not in report
    assert "3 personalized training invitations sent to CloudTech team!" in first
    # After the send: two invitees register from their links over HTTP, the webinar is played
    # through the edge's Zoom webhooks, and the CSM's tracking view shows what happened.
    later = first.split("Later, in the invitees' mailboxes")[1]
    assert later.count("opens the link: HTTP 200") == 2
    assert later.count("presses Register: HTTP 200, \"You're registered") == 2
    assert "invitees should hear of the new time" in later
    assert "7 of 7 webhooks accepted" in later
    tracking = later.split("CSM: How did it go?")[1]
    assert "- Sarah Chen: attended (70 min)" in tracking and "- Lisa Park: no-show" in tracking
    assert "- Mike Johnson: sent, no answer yet" in tracking
    assert "System: 3 invited · 2 registered · 1 attended · 1 no-show" in tracking
    assert "all your customers: 3 invited · 2 registered · 1 attended · 1 no-show" in tracking

    assert (
        await demo.play(
            demo.DEFAULT_REQUEST, CSM_EMAIL, processes.endpoints, 30, processes.zoom_secret
        )
        == 0
    )
    second = capsys.readouterr().out
    assert "(none left to invite)" in second
    assert "Nobody at CloudTech is left to invite" in second
    assert "Already invited to this session" in second
    pending = await processes.clients.personalizer.ListInvitationBatches(
        pb.ListInvitationBatchesRequest(parent="customers/cloudtech", pending_review_only=True),
        metadata=processes.clients.csm,
    )
    assert list(pending.invitation_batches) == []


GAPS_REQUEST = '{"name": "customers/cloudtech/training-gaps"}'


async def test_make_call_speaks_json_with_the_development_token(
    processes: Running, tmp_path: Path
) -> None:
    """`make call`: a request in JSON, the answer in JSON; a field mask in its JSON spelling."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "endpoints.json").write_text(json.dumps(processes.endpoints))
    gaps = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tools.call", "GetTrainingGaps", GAPS_REQUEST],
        cwd=ROOT,
        env={**os.environ, "TRAINVITE_DATA_DIR": str(data_dir), "JWT_SECRET": processes.key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gaps.returncode == 0, gaps.stderr
    assert "Sarah Chen" in gaps.stdout

    token = issue_token(processes.key, CSM_EMAIL, CallerKind.CSM)

    def json_call(rpc: str, request: dict[str, Any]) -> Any:
        return json.loads(call.call(rpc, json.dumps(request), token, processes.endpoints))

    batch = await asyncio.to_thread(
        json_call,
        "DraftInvitations",
        {"parent": "customers/cloudtech", "topic": "Workflow Automation"},
    )
    draft = batch["drafts"][0]
    edited = await asyncio.to_thread(
        json_call,
        "PersonalizerService/UpdateInvitationDraft",
        {
            "draft": {"name": draft["name"], "etag": draft["etag"], "content": {"textBody": "Hi"}},
            "updateMask": "content.textBody",
        },
    )
    assert edited["content"]["textBody"].strip() == "Hi"
    assert edited["content"]["subject"] == draft["content"]["subject"]
