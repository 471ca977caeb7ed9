"""PostgreSQL, NATS and free ports for a benchmark run, like the tests get them.

TEST_DATABASE_URL / TEST_NATS_URL are used when set; otherwise embedded servers are started.
Each run works in a database of its own, dropped at the end.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.common.migrations import apply_all
from tools import stack


@dataclass(frozen=True)
class BenchEnvironment:
    database_url: str
    nats_url: str
    work_dir: Path


@contextlib.contextmanager
def bench_environment() -> Iterator[BenchEnvironment]:
    with tempfile.TemporaryDirectory(prefix="trainvite-bench-") as tmp:
        work = Path(tmp)
        admin_url = os.environ.get("TEST_DATABASE_URL")
        server = None
        if not admin_url:
            admin_url, server = stack.postgres(work / "postgres", keep=False)
        nats_server = None
        nats_url = os.environ.get("TEST_NATS_URL")
        if not nats_url:
            nats_server = stack.nats(work / "nats")
            nats_url = nats_server.url
        name = f"trainvite_bench_{uuid.uuid4().hex[:10]}"
        database_url = stack.create_database(admin_url, name)
        try:
            apply_all(database_url)
            yield BenchEnvironment(database_url, nats_url, work)
        finally:
            stack.drop_database(admin_url, name)
            if nats_server is not None:
                nats_server.stop()
            if server is not None:
                server.cleanup()  # type: ignore[attr-defined]
