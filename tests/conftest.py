"""Real PostgreSQL and NATS for the tests that need them.

TEST_DATABASE_URL / TEST_NATS_URL point at servers you run; without them an embedded PostgreSQL
and a nats-server are started for the session. Either way the session makes its own databases and
each test works in its own event namespace, so nothing is shared with other runs. Each test module
works on a database of its own (a module whose tests would see each other's rows, on one per
test), copied from one template migrated and seeded once per session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import DatabaseTemplate
from tools import stack

# Fuzzing: a short run in `make test`, the long one (10,000 examples each) in `make fuzz`.
settings.register_profile(
    "short",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "long",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))


@pytest.fixture(scope="session")
def servers_dir() -> Iterator[Path]:
    """Where the session's own servers keep their data.

    Not under pytest's temporary folders: pytest keeps only the newest three sessions' folders,
    so a second pytest session on the machine would delete a running server's files.
    """
    root = Path(tempfile.mkdtemp(prefix="trainvite-test-servers-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url(servers_dir: Path) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    admin_url, server = stack.postgres(servers_dir / "postgres" / "data", keep=False)
    yield admin_url
    server.cleanup()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def database_template(postgres_admin_url: str) -> Iterator[DatabaseTemplate]:
    """The migrated and seeded database every test database is copied from."""
    template = DatabaseTemplate.create(postgres_admin_url)
    yield template
    template.drop()


@pytest.fixture(scope="module")
def database_url(database_template: DatabaseTemplate) -> Iterator[str]:
    """This module's own database, migrated and seeded with the demo data.

    Nothing a module's tests change is seen by another module. A module whose tests would see
    each other's rows overrides this fixture with `fresh_database_url`.
    """
    with database_template.copy() as url:
        yield url


@pytest.fixture
def fresh_database_url(database_template: DatabaseTemplate) -> Iterator[str]:
    """A migrated and seeded database of this test's own."""
    with database_template.copy() as url:
        yield url


@pytest.fixture(scope="session")
def nats_url(servers_dir: Path) -> Iterator[str]:
    url = os.environ.get("TEST_NATS_URL")
    if url:
        yield url
        return
    server = stack.nats(servers_dir / "nats")
    yield server.url
    server.stop()


@pytest.fixture
def namespace() -> str:
    """A stream and subject prefix of this test's own."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def signing_key() -> str:
    return "test-signing-key-" + uuid.uuid4().hex


@pytest.fixture
def outbox_dir(tmp_path: Path) -> Path:
    return tmp_path / "outbox"
