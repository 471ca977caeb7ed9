"""PersonalizerService over gRPC: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from typing import Any

import grpc
from trainvite.personalizer.v1 import personalizer_pb2 as pb
from trainvite.personalizer.v1 import personalizer_pb2_grpc

from services.common.auth import current_principal
from services.personalizer.api.convert import batch_to_pb, draft_to_pb, gaps_to_pb
from services.personalizer.domain.model import Content
from services.personalizer.service_layer import handlers
from services.personalizer.service_layer.handlers import Dependencies


class PersonalizerServicer(personalizer_pb2_grpc.PersonalizerServiceServicer):
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def GetTrainingGaps(
        self, request: pb.GetTrainingGapsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.TrainingGaps:
        gaps = await handlers.get_training_gaps(
            self._deps, request.name, request.window_days, current_principal()
        )
        return gaps_to_pb(gaps)

    async def DraftInvitations(
        self, request: pb.DraftInvitationsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.InvitationBatch:
        batch = await handlers.draft_invitations(
            self._deps,
            request.parent,
            request.training_session,
            request.topic,
            request.request_id,
            current_principal(),
        )
        return batch_to_pb(batch)

    async def ListInvitationBatches(
        self, request: pb.ListInvitationBatchesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListInvitationBatchesResponse:
        page = await handlers.list_batches(
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
        self, request: pb.GetInvitationBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.InvitationBatch:
        return batch_to_pb(await handlers.get_batch(self._deps, request.name, current_principal()))

    async def UpdateInvitationDraft(
        self, request: pb.UpdateInvitationDraftRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.InvitationDraft:
        content = request.draft.content
        draft = await handlers.update_draft(
            self._deps,
            request.draft.name,
            list(request.update_mask.paths),
            Content(content.subject, content.text_body, content.html_body, content.calendar_ics),
            request.draft.etag,
            current_principal(),
        )
        return draft_to_pb(request.draft.name, draft)

    async def ApproveInvitationBatch(
        self, request: pb.ApproveInvitationBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.InvitationBatch:
        batch = await handlers.approve_batch(
            self._deps, request.name, request.etag, current_principal()
        )
        return batch_to_pb(batch)
