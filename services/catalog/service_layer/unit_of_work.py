"""The catalog's unit of work."""

from __future__ import annotations

from services.catalog.adapters.repository import SessionRepository
from services.common.db import Connection
from services.common.unit_of_work import UnitOfWork


class CatalogUnitOfWork(UnitOfWork):
    sessions: SessionRepository

    def _bind(self, conn: Connection) -> None:
        self.sessions = SessionRepository(conn)
