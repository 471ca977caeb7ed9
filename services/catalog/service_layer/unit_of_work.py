"""The catalog's unit of work, as its use cases see it."""

from __future__ import annotations

from services.catalog.service_layer.ports import (
    AttendanceRepository,
    CourseRepository,
    RegistrationRepository,
    SessionRepository,
)
from services.common.unit_of_work import UnitOfWork


class CatalogUnitOfWork(UnitOfWork):
    """Courses, sessions, registrations and attendance in one transaction; bound by each
    implementation on entering it."""

    courses: CourseRepository
    sessions: SessionRepository
    registrations: RegistrationRepository
    attendance: AttendanceRepository
