"""The catalog's unit of work."""

from __future__ import annotations

from services.catalog.adapters.repository import CourseRepository, SessionRepository
from services.common.db import Connection
from services.common.unit_of_work import UnitOfWork


class CatalogUnitOfWork(UnitOfWork):
    courses: CourseRepository
    sessions: SessionRepository

    def _bind(self, conn: Connection) -> None:
        self.courses = CourseRepository(conn)
        self.sessions = SessionRepository(conn)
