"""The catalog's unit of work on PostgreSQL: its SQL repositories over one transaction."""

from __future__ import annotations

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
        self._repositories = [courses, sessions, registrations]

    def repositories(self) -> list[Repository]:
        return self._repositories
