"""Dispatcher sending through the real Gmail client to the fake Gmail on loopback.

1. With the fake enforcing a per-user quota (15,000 units a minute by default: 150 sends) and the
   dispatcher budgeting the same quota: the share of the quota sustained over several minutes,
   the 429s provoked, and the dispatcher's CPU time per send.
2. With no quota: sends per second of one dispatcher process, beside the raw baseline of the
   same client sending in a plain loop from one thread.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import httplib2
from googleapiclient import discovery

from bench.environment import BenchEnvironment, bench_environment
from bench.harness import start, wait_for_port
from tests.fakes.gmail import Behaviour, FakeGmail, token_file
from tests.helpers import free_port

QUOTA_UNITS = int(os.environ.get("BENCH_QUOTA_UNITS", "15000"))
QUOTA_SECONDS = float(os.environ.get("BENCH_QUOTA_SECONDS", "180"))
FREE_SENDS = int(os.environ.get("BENCH_FREE_SENDS", "2000"))
SENDERS = 20
MAILBOX = "csm@bench.example"
BODY = "Hi,\n\n" + "You are invited to our training. " * 60 + "\n"


async def _insert_deliveries(database_url: str, count: int, senders: int = SENDERS) -> None:
    """Approved invitations as the dispatcher stores them, from `senders` addresses."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """
            INSERT INTO dispatcher.deliveries (id, invitation, batch, customer_id,
                training_session, recipient_email, recipient_name, sender_email, sender_name,
                subject, text_body, html_body, calendar_ics, content_sha256, approved_by,
                approved_at, message_id, send_after)
            SELECT gen_random_uuid(), 'customers/b/invitation-batches/' || $2 || '/drafts/' || i,
                   'customers/b/invitation-batches/' || $2, 'b', 'training-sessions/s',
                   'person' || i || '@bench.example', 'Person ' || i,
                   'csm' || (i % $3) || '@bench.example', 'CSM', 'Training invitation ' || i,
                   $4, '<p>' || $4 || '</p>', '', 'x', 'csm@bench.example', now(),
                   '<' || gen_random_uuid() || '@bench.example>', now()
            FROM generate_series(1, $1) i
            """,
            count,
            str(uuid.uuid4()),
            senders,
            BODY,
        )
    finally:
        await conn.close()


async def _sent(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM dispatcher.deliveries WHERE state = 'sent'"
        )
        return count
    finally:
        await conn.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _dispatcher(env: BenchEnvironment, gmail: FakeGmail, quota: int, work: Path) -> tuple:  # type: ignore[type-arg]
    port = free_port()
    child = start(
        ["-m", "services.dispatcher"],
        {
            "DATABASE_URL": env.database_url,
            "NATS_URL": env.nats_url,
            "JWT_SECRET": "bench-" + uuid.uuid4().hex,
            "EVENT_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
            "GRPC_PORT": str(port),
            "LOG_LEVEL": "WARNING",
            "MAIL_SENDER": "gmail",
            "GMAIL_TOKEN_FILE": str(token_file(work / "token.json", MAILBOX)),
            "GMAIL_API_ENDPOINT": gmail.url,
            "GMAIL_QUOTA_UNITS_PER_MINUTE": str(quota),
            "SEND_POLL_SECONDS": "0.05",
        },
        work / "dispatcher.log",
    )
    wait_for_port(port, child)
    return child, port


def quota_run(env: BenchEnvironment) -> None:
    per_minute = QUOTA_UNITS // 100
    # One mailbox: the quota is a mailbox's.
    asyncio.run(_insert_deliveries(env.database_url, int(per_minute * QUOTA_SECONDS / 60) + 200, 1))
    behaviour = Behaviour(quota_units=QUOTA_UNITS, quota_window_seconds=60.0)
    with FakeGmail(behaviour) as gmail:
        child, _ = _dispatcher(env, gmail, QUOTA_UNITS, env.work_dir)
        try:
            cpu_before = _cpu_seconds(child.pid)
            started = time.perf_counter()
            time.sleep(QUOTA_SECONDS)
            elapsed = time.perf_counter() - started
            cpu = _cpu_seconds(child.pid) - cpu_before
            sends = len(gmail.delivered(MAILBOX))
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(30)
    allowed = QUOTA_UNITS * elapsed / 60 / 100
    print(
        f"quota {QUOTA_UNITS:,} units/min ({per_minute} sends/min) for {elapsed:.0f} s: "
        f"{sends:,} sends = {sends / allowed:.1%} of the quota; "
        f"{gmail.rate_limited} answered 429; lookups {gmail.lookups}; "
        f"dispatcher CPU {cpu * 1000 / max(sends, 1):.2f} ms per send"
    )


def raw_baseline(gmail: FakeGmail, work: Path, count: int = 500) -> float:
    """Sends per second of the bare client in a loop from one thread."""
    import google.oauth2.credentials as oauth
    import google_auth_httplib2

    credentials = oauth.Credentials.from_authorized_user_file(  # type: ignore[no-untyped-call]
        str(token_file(work / "raw-token.json", "raw@bench.example"))
    )
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=30))
    client = discovery.build(
        "gmail",
        "v1",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": gmail.url},
    )
    message = EmailMessage()
    message["From"] = "raw@bench.example"
    message["To"] = "someone@bench.example"
    message["Subject"] = "Training invitation"
    message.set_content(BODY)
    started = time.perf_counter()
    for i in range(count):
        del message["Message-ID"]
        message["Message-ID"] = f"<raw-{i}@bench.example>"
        raw = base64.urlsafe_b64encode(message.as_bytes()).decode()
        client.users().messages().send(userId="me", body={"raw": raw}).execute(num_retries=0)
    return count / (time.perf_counter() - started)


def free_run(env: BenchEnvironment) -> None:
    with FakeGmail(Behaviour()) as gmail:
        baseline = raw_baseline(gmail, env.work_dir)
        asyncio.run(_insert_deliveries(env.database_url, FREE_SENDS))
        before = asyncio.run(_sent(env.database_url))
        child, _ = _dispatcher(env, gmail, 10**9, env.work_dir)
        try:
            cpu_before = _cpu_seconds(child.pid)
            started = time.perf_counter()
            while asyncio.run(_sent(env.database_url)) - before < FREE_SENDS:
                time.sleep(0.2)
                if time.perf_counter() - started > 600:
                    raise RuntimeError("sending did not finish in 10 minutes")
            elapsed = time.perf_counter() - started
            cpu = _cpu_seconds(child.pid) - cpu_before
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(30)
    rate = FREE_SENDS / elapsed
    print(
        f"no quota, {FREE_SENDS:,} messages from {SENDERS} sender addresses: {rate:,.0f} sends/s "
        f"per dispatcher process ({rate / baseline:.2f}x the bare client's loop, "
        f"{baseline:,.0f} sends/s); CPU {cpu * 1000 / FREE_SENDS:.2f} ms per send"
    )


def main() -> None:
    print("== dispatcher: Gmail client against the fake Gmail on loopback ==")
    with bench_environment() as env:
        free_run(env)
        quota_run(env)
