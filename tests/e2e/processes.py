"""The services as child processes, and customers with many people to invite: what the tests
that kill and restart processes share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from tools.run import service_environment

ROOT = Path(__file__).resolve().parents[2]
SERVICE_NAMES = ("catalog", "personalizer", "dispatcher")
# Roles the Advanced Analytics course is for: everyone added below is fit to be invited.
FIT_ROLES = ("operations_leader", "data_analyst", "team_lead")


def start_service(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m services.<name>` with `env` on top of this process's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )


def service_environments(
    database_url: str,
    nats_url: str,
    key_file: Path,
    namespace: str,
    ports: dict[str, int],
) -> dict[str, dict[str, str]]:
    """Per service, the environment to run it with on these servers and ports."""
    envs = service_environment(database_url, nats_url, str(key_file))
    for name, env in envs.items():
        env.update(
            {
                "GRPC_PORT": str(ports[name]),
                "EVENT_NAMESPACE": namespace,
                "CATALOG_ADDRESS": f"127.0.0.1:{ports['catalog']}",
                "LOG_LEVEL": "WARNING",
            }
        )
    return envs


def gmail_dispatcher(gmail_url: str, token_path: Path) -> dict[str, str]:
    """A dispatcher sending through the fake Gmail, quick to take over a killed one's claims."""
    return {
        "MAIL_SENDER": "gmail",
        "GMAIL_TOKEN_FILE": str(token_path),
        "GMAIL_API_ENDPOINT": gmail_url,
        "CLAIM_LEASE_SECONDS": "2",
        "UNKNOWN_OUTCOME_SETTLE_SECONDS": "1",
        "SHUTDOWN_GRACE_SECONDS": "1",
        # The fake enforces no quota: the mailbox's budget (kept across restarts) and daily cap
        # are not what these tests measure, so they are set far above what they send.
        "GMAIL_QUOTA_UNITS_PER_MINUTE": "10000000",
        "DAILY_SEND_CAP": "100000",
    }


async def add_customer(
    database_url: str, customer_id: str, csm_email: str, csm_name: str, people: int
) -> list[str]:
    """A customer of the CSM's with `people` analysts, leads and ops leaders, all fit for the
    Advanced Analytics course; returns their addresses."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO platform.customers (id, display_name, csm_email, csm_name)
                VALUES ($1, $2, $3, $4)
                """,
                customer_id,
                customer_id.title(),
                csm_email,
                csm_name,
            )
            await conn.execute(
                """
                INSERT INTO platform.entitlements (customer_id, feature)
                SELECT $1, f FROM unnest(ARRAY['dashboards', 'report_scheduling', 'sharing']) f
                """,
                customer_id,
            )
            rows = await conn.fetch(
                """
                INSERT INTO platform.stakeholders (id, customer_id, display_name, email, role,
                    title)
                SELECT $1 || '-' || i, $1, 'Person ' || i,
                       'person' || i || '@' || $1 || '.example', ($3::text[])[1 + i % 3], 'Staff'
                FROM generate_series(1, $2) i
                RETURNING email
                """,
                customer_id,
                people,
                list(FIT_ROLES),
            )
        return [r["email"] for r in rows]
    finally:
        await conn.close()
