"""Confirmations of registrations: someone who registered through an invitation hears back from
the CSM who invited them, with no review, since the message answers their own action."""

from __future__ import annotations

import dataclasses

from services.common.errors import FailedPrecondition, NotFound
from services.personalizer.domain import names
from services.personalizer.domain.facts import RegistrationMove
from services.personalizer.domain.model import (
    SYSTEM_REGISTRATION,
    DraftState,
    InvitationBatch,
    InvitationDraft,
    Purpose,
)
from services.personalizer.service_layer.dependencies import Dependencies


async def confirm_registration(deps: Dependencies, move: RegistrationMove) -> bool:
    """Write to the person whose registration moved, when the move deserves an answer (see
    `RegistrationMove.confirmation`): one approved single-draft batch, which the dispatcher sends
    like any approved invitation. True when a confirmation was made; a repeated event makes
    none."""
    kind = move.confirmation
    if kind is None:
        return False
    customer_id, batch_id, draft_id = names.draft_id(move.invitation, "invitation")
    # The session as it is now: the calendar entry must carry its current time and SEQUENCE,
    # or the person's calendar would go back to what the invitation said.
    try:
        session = await deps.catalog.get(move.training_session)
    except FailedPrecondition:
        # Cancelled since the move: the cancellation notice tells the person, and a seat
        # confirmed now would put the cancelled entry back in their calendar.
        return False
    now = deps.clock()
    async with deps.uow() as uow:
        if not await uow.first_time(move.event_id):
            return False
        invitation = await uow.batches.get(customer_id, batch_id)
        if invitation is None:
            raise NotFound(f"{move.invitation} does not exist")
        invited = invitation.draft(draft_id)
        if (
            invitation.purpose is not Purpose.INVITATION
            or invited.state is not DraftState.APPROVED
            or invitation.session.name != move.training_session
        ):
            raise FailedPrecondition(
                f"{move.invitation} is not an approved invitation to {move.training_session}"
            )
        if invited.recipient.email.casefold() != move.email.casefold():
            # The registrant is not the person invited: the CSM did not write to them.
            raise FailedPrecondition(f"{move.invitation} was not sent to the registrant")
        customer = await uow.platform.customer(customer_id)
        if customer is None:
            return False  # the platform no longer knows the customer: nobody to write from
        if customer.csm_email != invitation.sender.email:
            # The customer changed hands since: the reply still comes from whoever invited them.
            customer = dataclasses.replace(
                customer,
                csm_email=invitation.sender.email,
                csm_name=invitation.sender.display_name,
                csm_signature=invitation.sender.display_name,
            )
        content = deps.renderer.render_confirmation(
            kind,
            session,
            invited.recipient,
            invited.registration_url,
            customer,
            now,
            move.waitlist_position,
        )
        draft = InvitationDraft.confirmation(deps.new_id(), invited, content)
        batch = InvitationBatch.confirmation(
            deps.new_id(), invitation, kind, session, draft, now, move.event_id
        )
        if not await uow.batches.add(batch, None):
            return False
        await uow.batches.log(batch.id, None, "created", SYSTEM_REGISTRATION, kind.value)
        await uow.batches.log(batch.id, draft.id, "approved", SYSTEM_REGISTRATION)
        await uow.commit()
    return True
