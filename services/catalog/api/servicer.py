"""CatalogService over gRPC: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc
from trainvite.catalog.v1 import catalog_pb2 as pb
from trainvite.catalog.v1 import catalog_pb2_grpc

from services.catalog.api.convert import (
    LEVEL_FROM_PB,
    course_fields,
    course_from_pb,
    course_to_pb,
    registration_to_pb,
    scheduled_to_pb,
    session_fields,
    session_from_pb,
)
from services.catalog.domain.model import ScheduledSession
from services.catalog.service_layer import attendance, courses, registrations, search, sessions
from services.catalog.service_layer.dependencies import Dependencies
from services.catalog.service_layer.sessions import SessionQuery
from services.common.auth import current_principal
from services.common.errors import InvalidArgument

Context = grpc.aio.ServicerContext[Any, Any]


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def _now_pb(self, view: ScheduledSession) -> pb.TrainingSession:
        return scheduled_to_pb(view, self._deps.clock())

    async def CreateCourse(self, request: pb.CreateCourseRequest, context: Context) -> pb.Course:
        course = course_from_pb(request.course)
        return course_to_pb(await courses.create_course(self._deps, course, request.request_id))

    async def GetCourse(self, request: pb.GetCourseRequest, context: Context) -> pb.Course:
        return course_to_pb(await courses.get_course(self._deps, request.name))

    async def ListCourses(
        self, request: pb.ListCoursesRequest, context: Context
    ) -> pb.ListCoursesResponse:
        page = await courses.list_courses(
            self._deps, request.page_size, request.page_token, request.show_cancelled
        )
        return pb.ListCoursesResponse(
            courses=[course_to_pb(c) for c in page.items], next_page_token=page.next_page_token
        )

    async def UpdateCourse(self, request: pb.UpdateCourseRequest, context: Context) -> pb.Course:
        course = await courses.change_course(
            self._deps,
            request.course.name,
            course_fields(request.course, list(request.update_mask.paths)),
            list(request.update_mask.paths),
            request.course.etag,
            current_principal().subject,
        )
        return course_to_pb(course)

    async def CancelCourse(self, request: pb.CancelCourseRequest, context: Context) -> pb.Course:
        course = await courses.cancel_course(
            self._deps, request.name, request.etag, current_principal().subject
        )
        return course_to_pb(course)

    async def CreateTrainingSession(
        self, request: pb.CreateTrainingSessionRequest, context: Context
    ) -> pb.TrainingSession:
        session = session_from_pb(request.training_session)
        stored = await sessions.create_session(self._deps, session, request.request_id)
        return self._now_pb(stored)

    async def GetTrainingSession(
        self, request: pb.GetTrainingSessionRequest, context: Context
    ) -> pb.TrainingSession:
        return self._now_pb(await sessions.get_session(self._deps, request.name))

    async def ListTrainingSessions(
        self, request: pb.ListTrainingSessionsRequest, context: Context
    ) -> pb.ListTrainingSessionsResponse:
        if request.level and request.level not in LEVEL_FROM_PB:
            raise InvalidArgument.single("level", "is not a known level")
        query = SessionQuery(
            include_past=request.include_past,
            feature=request.feature,
            role=request.role,
            level=LEVEL_FROM_PB.get(request.level),
            start_after=(
                request.start_after.ToDatetime(tzinfo=dt.UTC)
                if request.HasField("start_after")
                else None
            ),
            start_before=(
                request.start_before.ToDatetime(tzinfo=dt.UTC)
                if request.HasField("start_before")
                else None
            ),
            course=request.course,
            show_cancelled=request.show_cancelled,
        )
        page = await sessions.list_sessions(
            self._deps, query, request.page_size, request.page_token
        )
        return pb.ListTrainingSessionsResponse(
            training_sessions=[self._now_pb(s) for s in page.items],
            next_page_token=page.next_page_token,
        )

    async def UpdateTrainingSession(
        self, request: pb.UpdateTrainingSessionRequest, context: Context
    ) -> pb.TrainingSession:
        updated = await sessions.change_session(
            self._deps,
            request.training_session.name,
            session_fields(request.training_session),
            list(request.update_mask.paths),
            request.training_session.etag,
            current_principal().subject,
        )
        return self._now_pb(updated)

    async def CancelTrainingSession(
        self, request: pb.CancelTrainingSessionRequest, context: Context
    ) -> pb.TrainingSession:
        cancelled = await sessions.cancel_session(
            self._deps, request.name, request.etag, request.reason, current_principal().subject
        )
        return self._now_pb(cancelled)

    async def SearchTrainingSessions(
        self, request: pb.SearchTrainingSessionsRequest, context: Context
    ) -> pb.SearchTrainingSessionsResponse:
        found = await search.search_sessions(
            self._deps, request.query, request.page_size, request.include_past
        )
        return pb.SearchTrainingSessionsResponse(
            results=[
                pb.SearchTrainingSessionsResponse.Result(
                    training_session=self._now_pb(s), relevance=r
                )
                for s, r in found
            ]
        )

    async def ListAlternativeSessions(
        self, request: pb.ListAlternativeSessionsRequest, context: Context
    ) -> pb.ListAlternativeSessionsResponse:
        found = await search.alternatives(self._deps, request.name, request.page_size)
        return pb.ListAlternativeSessionsResponse(
            alternatives=[
                pb.ListAlternativeSessionsResponse.Alternative(
                    training_session=self._now_pb(a.scheduled),
                    same_course=a.same_course,
                    shared_features=a.shared_features,
                )
                for a in found
            ]
        )

    async def RegisterForSession(
        self, request: pb.RegisterForSessionRequest, context: Context
    ) -> pb.Registration:
        registration = await registrations.register(
            self._deps, request.training_session, request.email, request.invitation
        )
        return registration_to_pb(registration)

    async def CancelRegistration(
        self, request: pb.CancelRegistrationRequest, context: Context
    ) -> pb.Registration:
        registration = await registrations.cancel(
            self._deps, request.training_session, request.email
        )
        return registration_to_pb(registration)

    async def GetRegistration(
        self, request: pb.GetRegistrationRequest, context: Context
    ) -> pb.Registration:
        registration = await registrations.get(self._deps, request.training_session, request.email)
        return registration_to_pb(registration)

    async def ImportAttendanceReport(
        self, request: pb.ImportAttendanceReportRequest, context: Context
    ) -> pb.ImportAttendanceReportResponse:
        imported = await attendance.import_report(
            self._deps, request.training_session, request.report, request.source
        )
        return pb.ImportAttendanceReportResponse(
            attended_count=imported.attended,
            no_show_count=imported.no_show,
            skipped_rows=[
                pb.SkippedReportRow(line=row.line, reason=row.reason) for row in imported.skipped
            ],
        )
