"""Who may call what: one table from each RPC's full method name to the kinds of caller allowed.

The auth interceptor enforces it before any servicer runs, and a method missing from the table
is denied to everyone, so a new RPC is closed until someone decides who may call it. Which
customers a CSM may act for is a question about data, answered where each resource is loaded
(the personalizer's `customer_for`, the dispatcher's batch and unsubscribe handlers).

- A CSM works with their own customers' gaps, batches, drafts, deliveries and mailbox, and reads
  the catalog to pick a session.
- A catalog editor maintains courses and sessions and reads them.
- A service is trainvite calling itself: the personalizer reads the catalog to draft, and the
  HTTP edge registers people for sessions and cancels their registrations.
- The gateway, on its own behalf, only carries an invitee's one-click unsubscribe link; when it
  acts for a CSM it passes that CSM's own token and is a CSM here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from services.common.auth import CallerKind

_CATALOG = "/trainvite.catalog.v1.CatalogService/"
_PERSONALIZER = "/trainvite.personalizer.v1.PersonalizerService/"
_DISPATCHER = "/trainvite.dispatcher.v1.DispatcherService/"

CATALOG_READERS = frozenset({CallerKind.CSM, CallerKind.CATALOG_EDITOR, CallerKind.SERVICE})
CATALOG_WRITERS = frozenset({CallerKind.CATALOG_EDITOR})
CSM_ONLY = frozenset({CallerKind.CSM})
# The HTTP edge registers people on their behalf with its service token; a CSM may look one up.
REGISTRARS = frozenset({CallerKind.SERVICE})
REGISTRATION_READERS = frozenset({CallerKind.SERVICE, CallerKind.CSM})
# By address for a CSM who invited it; by the link's signed token for the gateway (and a CSM).
UNSUBSCRIBERS = frozenset({CallerKind.CSM, CallerKind.GATEWAY})
# The webinar tool's report: whoever ran the session, its editor or the CSM who invited to it.
ATTENDANCE_IMPORTERS = frozenset({CallerKind.CSM, CallerKind.CATALOG_EDITOR})

POLICY: Mapping[str, frozenset[CallerKind]] = MappingProxyType(
    {
        _CATALOG + "CreateCourse": CATALOG_WRITERS,
        _CATALOG + "GetCourse": CATALOG_READERS,
        _CATALOG + "ListCourses": CATALOG_READERS,
        _CATALOG + "UpdateCourse": CATALOG_WRITERS,
        _CATALOG + "CancelCourse": CATALOG_WRITERS,
        _CATALOG + "CreateTrainingSession": CATALOG_WRITERS,
        _CATALOG + "GetTrainingSession": CATALOG_READERS,
        _CATALOG + "ListTrainingSessions": CATALOG_READERS,
        _CATALOG + "UpdateTrainingSession": CATALOG_WRITERS,
        _CATALOG + "CancelTrainingSession": CATALOG_WRITERS,
        _CATALOG + "SearchTrainingSessions": CATALOG_READERS,
        _CATALOG + "ListAlternativeSessions": CATALOG_READERS,
        _CATALOG + "RegisterForSession": REGISTRARS,
        _CATALOG + "CancelRegistration": REGISTRARS,
        _CATALOG + "GetRegistration": REGISTRATION_READERS,
        _CATALOG + "ImportAttendanceReport": ATTENDANCE_IMPORTERS,
        _PERSONALIZER + "GetTrainingGaps": CSM_ONLY,
        _PERSONALIZER + "DraftInvitations": CSM_ONLY,
        _PERSONALIZER + "ResolveCustomer": CSM_ONLY,
        _PERSONALIZER + "ListInvitationBatches": CSM_ONLY,
        _PERSONALIZER + "GetInvitationBatch": CSM_ONLY,
        _PERSONALIZER + "UpdateInvitationDraft": CSM_ONLY,
        _PERSONALIZER + "DropInvitationDraft": CSM_ONLY,
        _PERSONALIZER + "AddInvitationRecipient": CSM_ONLY,
        _PERSONALIZER + "RenderInvitationDraft": CSM_ONLY,
        _PERSONALIZER + "ApproveInvitationBatch": CSM_ONLY,
        _PERSONALIZER + "GetInvitationFunnel": CSM_ONLY,
        _DISPATCHER + "GetBatchDeliveryStatus": CSM_ONLY,
        _DISPATCHER + "GetBatchTracking": CSM_ONLY,
        _DISPATCHER + "GetSessionTracking": CSM_ONLY,
        _DISPATCHER + "PauseBatchDelivery": CSM_ONLY,
        _DISPATCHER + "ResumeBatchDelivery": CSM_ONLY,
        _DISPATCHER + "CancelBatchDelivery": CSM_ONLY,
        _DISPATCHER + "UpdateSenderControl": CSM_ONLY,
        _DISPATCHER + "Unsubscribe": UNSUBSCRIBERS,
    }
)


def allows(method: str, kind: CallerKind) -> bool:
    """True when a caller of this kind may call the method; False for a method not listed."""
    return kind in POLICY.get(method, frozenset())
