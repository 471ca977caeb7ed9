"""The catalog's unit of work on PostgreSQL: its SQL repositories over one transaction."""

from __future__ import annotations

from services.catalog.adapters.attendance_repository import PostgresAttendanceRepository
from services.catalog.adapters.registration_repository import PostgresRegistrationRepository
from services.catalog.adapters.repository import (
    PostgresCourseRepository,
    PostgresSessionRepository,
)
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common.db import Connection
from services.common.unit_of_work import PostgresUnitOfWork, Repository


class PostgresCatalogUnitOfWork(PostgresUnitOfWork, CatalogUnitOfWork):
    _repositories: list[Repository]

    def _bind(self, conn: Connection) -> None:
        self.courses = courses = PostgresCourseRepository(conn)
        self.sessions = sessions = PostgresSessionRepository(conn)
        self.registrations = registrations = PostgresRegistrationRepository(conn)
        self.attendance = attendance = PostgresAttendanceRepository(conn)
        self._repositories = [courses, sessions, registrations, attendance]

    def repositories(self) -> list[Repository]:
        return self._repositories
