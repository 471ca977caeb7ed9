"""The catalog's unit of work, as its use cases see it."""

from __future__ import annotations

from services.catalog.service_layer.ports import (
    CourseRepository,
    RegistrationRepository,
    SessionRepository,
)
from services.common.unit_of_work import UnitOfWork


class CatalogUnitOfWork(UnitOfWork):
    """Courses, sessions and registrations in one transaction; bound by each implementation
    on entering it."""

    courses: CourseRepository
    sessions: SessionRepository
    registrations: RegistrationRepository
