"""The three services for fuzzing, on a database of their own.

Generated requests cancel sessions, approve batches and unsubscribe addresses: they run against
the module's own database (`database_url`), so no other module sees what they changed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.helpers import Clients
from tests.in_process import running_services


@pytest.fixture(scope="module")
async def fuzz_services(
    database_url: str,
    nats_url: str,
    signing_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Clients]:
    """Catalog, personalizer and dispatcher serving for the whole module."""
    async with running_services(
        database_url,
        nats_url,
        f"f{uuid.uuid4().hex[:10]}",
        signing_key,
        tmp_path_factory.mktemp("fuzz-outbox"),
        # Generated requests invite the same people again and again: with the cap on, the
        # approvals and sends after the first few would have nobody left to reach.
        personalizer_overrides={"frequency_cap_days": 0},
        dispatcher_overrides={"frequency_cap_days": 0},
    ) as c:
        yield c


class ErrorRecords(logging.Handler):
    """Keeps every ERROR record (and unhandled exceptions, which asyncio logs as errors)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_records() -> Iterator[ErrorRecords]:
    """Every ERROR record logged while the test runs."""
    handler = ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
        # A service that configures logging replaces the root's handlers: had this one gone,
        # "nothing was logged as an error" would hold without anything having been watched.
        assert handler in root.handlers, "the error records stopped listening during the test"
    finally:
        root.removeHandler(handler)
