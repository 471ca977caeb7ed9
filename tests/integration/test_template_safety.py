"""What a CSM writes into a draft cannot hurt the service, the batch or the recipient.

A CSM's own template renders in a worker that is stopped at its time limit while every other
call keeps answering; a failing template is refused in plain words naming its field; injected
template code reaches nothing; edited HTML is stored, returned and sent sanitized; a CSM's own
text keeps the Register button.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from markupsafe import escape
from trainvite.common.v1 import common_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from tests.helpers import Clients
from tests.integration.catalog_data import analytics_session
from tests.unit.test_sanitize import FORBIDDEN, HOSTILE
from tests.unit.test_template_sandbox import INJECTIONS, INTERNALS
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: its tests invite the same people, and a delivery still pending when
    one ends would land in the next test's outbox."""
    return fresh_database_url


# Within every cheaper limit (range, loop steps, output, memory), and far from finishing in
# 2 s on any machine: a thousand times, wrap 200,000 characters into lines of three.
SLOW = "{% for i in range(1000) %}{% set w = ('x y ' * 50000)|wordwrap(3) %}{% endfor %}done"


def violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """The BadRequest field violations of an INVALID_ARGUMENT, field to description."""
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    status = rpc_status.from_call(error)
    assert status is not None, "INVALID_ARGUMENT carries google.rpc.BadRequest details"
    found: dict[str, str] = {}
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        assert detail.Unpack(bad_request)
        found |= {v.field: v.description for v in bad_request.field_violations}
    return found


async def _batch(c: Clients, parent: str = "customers/cloudtech") -> pb.InvitationBatch:
    session = await analytics_session(c)
    return await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent=parent, training_session=session.name), metadata=c.csm
    )


async def _render(c: Clients, draft: str, body: str, subject: str = "Hi") -> pb.InvitationDraft:
    return await c.personalizer.RenderInvitationDraft(
        pb.RenderInvitationDraftRequest(name=draft, subject_template=subject, body_template=body),
        metadata=c.csm,
        timeout=60,
    )


async def _health(c: Clients) -> int:
    stub = health_pb2_grpc.HealthStub(c.channels[1])
    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=30)
    return int(reply.status)


async def test_a_hostile_template_is_stopped_while_every_other_call_answers(
    services: Clients,
) -> None:
    batch = await _batch(services)
    hostile_draft, other_draft = batch.drafts[0], batch.drafts[1]
    hostile = asyncio.create_task(_render(services, hostile_draft.name, SLOW))
    await asyncio.sleep(0.5)  # the call reaches a worker and renders there

    # Meanwhile: health, another customer's gaps, and an edit of the same batch (which locks
    # it) all answer, and the hostile render is still going on when they have.
    assert await _health(services) == health_pb2.HealthCheckResponse.SERVING
    gaps = await services.personalizer.GetTrainingGaps(
        pb.GetTrainingGapsRequest(name="customers/northwind/training-gaps"),
        metadata=services.csm,
        timeout=30,
    )
    assert gaps.stakeholders
    edited = await services.personalizer.UpdateInvitationDraft(
        pb.UpdateInvitationDraftRequest(
            draft=pb.InvitationDraft(
                name=other_draft.name,
                etag=other_draft.etag,
                content=common_pb2.InvitationContent(subject="Edited meanwhile"),
            ),
            update_mask=FieldMask(paths=["content.subject"]),
        ),
        metadata=services.csm,
        timeout=30,
    )
    assert edited.content.subject == "Edited meanwhile"
    assert not hostile.done(), "the other calls waited for the hostile template"

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await hostile
    assert violations(err.value) == {"body_template": "took longer than 2 s to render"}

    # The service is whole afterwards: healthy, and the same draft renders a sane template.
    assert await _health(services) == health_pb2.HealthCheckResponse.SERVING
    rendered = await _render(services, hostile_draft.name, "Hi {{ recipient.first_name }}")
    assert rendered.content.text_body == f"Hi {hostile_draft.recipient.display_name.split()[0]}\n"


# Each answers INVALID_ARGUMENT naming body_template, in words (a fragment of them is given).
FAILING = {
    "{{ 5|round(-(10**12)) }}": "round takes a whole number",
    "{{ 1/0 }}": "divides by zero",
    "{{ 'a'|round('x') }}": "round takes a whole number",
    "{{ [1]|batch(-1) }}": "not text or a number",
    "{{ (1e308 * 10)|int }}": "number too large",
    "{{ 'x' * 10**9 }}": "repeats text beyond",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}": "calls itself too deeply",
    "{{ nobody }}": "'nobody', which is not a variable",
    "{{ 'x'|center(10**9) }}": "more memory than a template may use",
    "{{ 'x' * 150000 }}{{ 'y' * 150000 }}": "rendered more than 200 KiB",
    "{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}": (
        "loops more than 10,000 times"
    ),
}


async def test_failing_and_injected_templates_answer_in_plain_words(services: Clients) -> None:
    batch = await _batch(services)
    draft = batch.drafts[0]
    for template, says in FAILING.items():
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _render(services, draft.name, template)
        found = violations(err.value)
        assert set(found) == {"body_template"}, template
        assert says in found["body_template"], (template, found)
        assert not INTERNALS.search(found["body_template"]), (template, found)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _render(services, draft.name, "fine", subject="{{ 1/0 }}")
    assert violations(err.value) == {"subject_template": "divides by zero (line 1)"}

    for template in INJECTIONS:
        try:
            rendered = await _render(services, draft.name, template)
        except grpc.aio.AioRpcError as error:
            text = " ".join(violations(error).values()) + (error.details() or "")
        else:
            text = rendered.content.text_body + rendered.content.html_body
            assert "&lt;" not in rendered.content.html_body, (template, text)
        assert not INTERNALS.search(text), (template, text)
    assert await _health(services) == health_pb2.HealthCheckResponse.SERVING


async def test_a_csms_own_text_keeps_the_register_button(services: Clients) -> None:
    batch = await _batch(services)
    draft = batch.drafts[0]
    angle_button = re.search(
        r'<a href="([^"]+)" style="([^"]+)">Register Now &rarr;</a>', draft.content.html_body
    )
    assert angle_button
    rendered = await _render(
        services,
        draft.name,
        "Hi {{ recipient.first_name }},\n\nSlides: https://docs.example/deck\n"
        "Register now: {{ registration_url }}\n\nBest,\n{{ csm.name }}",
    )
    href = str(escape(draft.registration_url))
    assert (
        f'<a href="{href}" style="{angle_button.group(2)}" rel="noopener noreferrer">'
        "Register now &rarr;</a>" in rendered.content.html_body
    )
    assert '<a href="https://docs.example/deck" rel="noopener noreferrer">' in (
        rendered.content.html_body
    )


def _html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


async def _sent_to(outbox: Path, address: str) -> EmailMessage:
    def sent() -> EmailMessage | NotYet:
        recipients = []
        for path in outbox.glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if address in str(message["To"]):
                return message
            recipients.append(str(message["To"]))
        return NotYet(recipients)

    return await wait_for(sent, f"a message sent to {address}", timeout=30, interval=0.1)


async def test_edited_html_is_stored_returned_and_sent_sanitized(
    services: Clients, database_url: str, outbox_dir: Path
) -> None:
    batch = await _batch(services)
    draft = batch.drafts[0]
    edited = await services.personalizer.UpdateInvitationDraft(
        pb.UpdateInvitationDraftRequest(
            draft=pb.InvitationDraft(
                name=draft.name,
                etag=draft.etag,
                content=common_pb2.InvitationContent(html_body=HOSTILE),
            ),
            update_mask=FieldMask(paths=["content.html_body"]),
        ),
        metadata=services.csm,
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.UpdateInvitationDraft(
            pb.UpdateInvitationDraftRequest(
                draft=pb.InvitationDraft(
                    name=draft.name,
                    content=common_pb2.InvitationContent(html_body="<p>x</p>" * 30_000),
                ),
                update_mask=FieldMask(paths=["content.html_body"]),
            ),
            metadata=services.csm,
        )
    assert violations(err.value) == {"draft.content.html_body": "must be at most 200 KiB"}
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval(
            "SELECT html_body FROM personalizer.invitation_drafts WHERE id = $1::uuid",
            draft.name.rsplit("/", 1)[1],
        )
    finally:
        await conn.close()
    await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name, drafts=[draft.name]),
        metadata=services.csm,
    )
    sent = _html_part(await _sent_to(outbox_dir, draft.recipient.email))

    assert stored == edited.content.html_body
    for html in (stored, edited.content.html_body, sent):
        lowered = html.lower()
        for forbidden in FORBIDDEN:
            assert forbidden.lower() not in lowered, forbidden
        for kept in ("Hello <b>Sarah</b>", "form text", "Dec 3", "Register Now"):
            assert kept in html, kept
        assert '<a href="https://train.example/r/abc" style="font-weight:bold" rel="noopener' in (
            html
        )
