"""PersonalizerService over gRPC: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc
from trainvite.personalizer.v1 import personalizer_pb2 as pb
from trainvite.personalizer.v1 import personalizer_pb2_grpc

from services.common.auth import current_principal
from services.common.errors import InvalidArgument
from services.common.field_masks import snake_case_paths
from services.personalizer.api.convert import (
    DIMENSION_FROM_PB,
    batch_to_pb,
    contact_budget_overrides,
    draft_to_pb,
    funnel_to_pb,
    gaps_to_pb,
    resolution_to_pb,
)
from services.personalizer.domain import names
from services.personalizer.domain.model import Content
from services.personalizer.service_layer import customer_names, drafting, funnel, gaps, review
from services.personalizer.service_layer.dependencies import Dependencies

Context = grpc.aio.ServicerContext[Any, Any]


class PersonalizerServicer(personalizer_pb2_grpc.PersonalizerServiceServicer):
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def GetTrainingGaps(
        self, request: pb.GetTrainingGapsRequest, context: Context
    ) -> pb.TrainingGaps:
        name = request.name
        typed = await customer_names.customer_of_request(
            self._deps, name, request.customer_query, current_principal(), "name"
        )
        if typed is not None:
            name = names.gaps_name(typed)
        found = await gaps.get_training_gaps(
            self._deps, name, request.window_days, current_principal()
        )
        return gaps_to_pb(found)

    async def DraftInvitations(
        self, request: pb.DraftInvitationsRequest, context: Context
    ) -> pb.InvitationBatch:
        parent = request.parent
        typed = await customer_names.customer_of_request(
            self._deps, parent, request.customer_query, current_principal(), "parent"
        )
        if typed is not None:
            parent = names.customer_name(typed)
        batch = await drafting.draft_invitations(
            self._deps,
            parent,
            request.training_session,
            request.topic,
            request.request_id,
            current_principal(),
        )
        return batch_to_pb(batch, request.view)

    async def ListInvitationBatches(
        self, request: pb.ListInvitationBatchesRequest, context: Context
    ) -> pb.ListInvitationBatchesResponse:
        page = await review.list_batches(
            self._deps,
            request.parent,
            request.page_size,
            request.page_token,
            request.pending_review_only,
            current_principal(),
        )
        return pb.ListInvitationBatchesResponse(
            invitation_batches=[batch_to_pb(b) for b in page.batches],
            next_page_token=page.next_page_token,
        )

    async def GetInvitationBatch(
        self, request: pb.GetInvitationBatchRequest, context: Context
    ) -> pb.InvitationBatch:
        batch = await review.get_batch(self._deps, request.name, current_principal())
        return batch_to_pb(batch, request.view)

    async def UpdateInvitationDraft(
        self, request: pb.UpdateInvitationDraftRequest, context: Context
    ) -> pb.InvitationDraft:
        content = request.draft.content
        draft = await review.update_draft(
            self._deps,
            request.draft.name,
            snake_case_paths(request.update_mask.paths),
            Content(content.subject, content.text_body, content.html_body, content.calendar_ics),
            request.draft.etag,
            current_principal(),
        )
        return draft_to_pb(request.draft.name, draft)

    async def DropInvitationDraft(
        self, request: pb.DropInvitationDraftRequest, context: Context
    ) -> pb.InvitationDraft:
        draft = await review.drop_draft(self._deps, request.name, request.etag, current_principal())
        return draft_to_pb(request.name, draft)

    async def AddInvitationRecipient(
        self, request: pb.AddInvitationRecipientRequest, context: Context
    ) -> pb.InvitationDraft:
        draft = await drafting.add_recipient(
            self._deps, request.batch, request.stakeholder, request.etag, current_principal()
        )
        customer_id, batch_id = names.batch_id(request.batch, "batch")
        return draft_to_pb(names.draft_name(customer_id, batch_id, draft.id), draft)

    async def RenderInvitationDraft(
        self, request: pb.RenderInvitationDraftRequest, context: Context
    ) -> pb.InvitationDraft:
        draft = await review.render_draft(
            self._deps,
            request.name,
            request.etag,
            request.subject_template,
            request.body_template,
            current_principal(),
        )
        return draft_to_pb(request.name, draft)

    async def ApproveInvitationBatch(
        self, request: pb.ApproveInvitationBatchRequest, context: Context
    ) -> pb.InvitationBatch:
        send_after = (
            request.send_time.ToDatetime(tzinfo=dt.UTC) if request.HasField("send_time") else None
        )
        batch = await review.approve_batch(
            self._deps,
            request.name,
            request.etag,
            list(request.drafts),
            current_principal(),
            send_after,
            contact_budget_overrides(request),
            request.leave_out_over_budget,
        )
        return batch_to_pb(batch)

    async def GetInvitationFunnel(
        self, request: pb.GetInvitationFunnelRequest, context: Context
    ) -> pb.InvitationFunnel:
        dimension = DIMENSION_FROM_PB.get(request.group_by)
        if dimension is None:
            raise InvalidArgument.single("group_by", f"unknown dimension {request.group_by}")
        start, end = (
            getattr(request, f).ToDatetime(tzinfo=dt.UTC) if request.HasField(f) else None
            for f in ("start_time", "end_time")
        )
        found = await funnel.invitation_funnel(
            self._deps, request.scope.strip(), dimension, start, end, current_principal()
        )
        return funnel_to_pb(found)

    async def ResolveCustomer(
        self, request: pb.ResolveCustomerRequest, context: Context
    ) -> pb.ResolveCustomerResponse:
        resolution = await customer_names.resolve_customer(
            self._deps, request.query, current_principal()
        )
        return resolution_to_pb(resolution)
