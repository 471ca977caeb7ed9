"""A field mask reads the same whether its paths are spelled as in the proto or as in JSON."""

from __future__ import annotations

from typing import Any, cast

from google.protobuf import field_mask_pb2
from trainvite.common.v1 import common_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.auth import set_current_principal
from services.common.field_masks import snake_case_paths
from services.personalizer.api.servicer import PersonalizerServicer
from services.personalizer.service_layer import drafting
from tests.unit.personalizer.world import CSM, DASHBOARDS, world


def test_json_paths_read_as_proto_paths() -> None:
    assert snake_case_paths(["content.textBody", "content.html_body", "content.subject"]) == [
        "content.text_body",
        "content.html_body",
        "content.subject",
    ]
    mask = field_mask_pb2.FieldMask()
    mask.FromJsonString("content.textBody,content.htmlBody")
    assert snake_case_paths(mask.paths) == list(mask.paths)
    assert mask.ToJsonString() == "content.textBody,content.htmlBody"


async def test_a_draft_is_edited_through_a_mask_in_json_spelling() -> None:
    p = world()
    set_current_principal(CSM)
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    d = batch.drafts[0]
    request = pb.UpdateInvitationDraftRequest(
        draft=pb.InvitationDraft(
            name=batch.draft_name(d),
            etag=d.etag,
            content=common_pb2.InvitationContent(subject="New subject", text_body="New text"),
        ),
        update_mask=field_mask_pb2.FieldMask(paths=["content.textBody", "content.subject"]),
    )
    edited = await PersonalizerServicer(p.deps).UpdateInvitationDraft(request, cast(Any, None))
    assert (edited.content.subject, edited.content.text_body) == ("New subject", "New text")
