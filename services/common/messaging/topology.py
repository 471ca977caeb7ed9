"""Every stream, subject and durable consumer of the system, named in this one place."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StreamSpec:
    """A JetStream stream and the subjects it stores."""

    name: str
    subjects: list[str]


@dataclass(frozen=True)
class ConsumedEvent:
    """A subject a consumer reads and the protobuf message (full name) published on it."""

    subject: str
    message: str


# The platform's triggers: subject suffix -> the protobuf message published there.
PLATFORM_TRIGGERS = {
    "feature_released": "trainvite.events.v1.FeatureReleased",
    "low_adoption": "trainvite.events.v1.LowAdoptionDetected",
    "onboarding_scheduled": "trainvite.events.v1.OnboardingScheduled",
}


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer. Delivery settings are chosen per consumer, on purpose."""

    stream: str
    durable: str
    filter_subject: str
    # Seconds the server waits for an ack before redelivering.
    ack_wait: float = 30.0
    # After this many deliveries a failing message is dead-lettered, never dropped silently.
    max_deliver: int = 10
    # Redelivery delays (seconds) for messages that time out without an ack. JetStream takes the
    # first as the ack wait of every delivery, so it must leave a handler (and the messages
    # fetched in the same batch, handled one after another) as long as `ack_wait`: a shorter one
    # has messages delivered again while they are still being handled.
    backoff: list[float] = field(default_factory=lambda: [30.0, 60.0, 120.0, 300.0])
    max_ack_pending: int = 1000
    # What arrives on the filter subject, so that every event type can be named and tested.
    events: tuple[ConsumedEvent, ...] = ()


@dataclass(frozen=True)
class Topology:
    """Names derived from one namespace, so that environments can share a NATS server."""

    namespace: str = "trainvite"

    def _subject(self, suffix: str) -> str:
        return f"{self.namespace}.{suffix}"

    def _stream(self, suffix: str) -> str:
        return f"{self.namespace.upper().replace('.', '_').replace('-', '_')}_{suffix}"

    # Subjects -------------------------------------------------------------------------------
    @property
    def invitation_approved(self) -> str:
        """personalizer -> dispatcher: one approved invitation, content frozen."""
        return self._subject("invitations.approved")

    @property
    def drafts_ready(self) -> str:
        """personalizer -> the CSM's tools: a batch waits for review."""
        return self._subject("invitations.drafts_ready")

    @property
    def platform_triggers(self) -> str:
        """The platform -> personalizer: feature released, low adoption, onboarding scheduled."""
        return self._subject("platform.>")

    def platform_trigger(self, kind: str) -> str:
        """One trigger's subject: feature_released, low_adoption, onboarding_scheduled."""
        return self._subject(f"platform.{kind}")

    @property
    def delivery_outcome(self) -> str:
        """dispatcher -> personalizer: sent, failed or suppressed."""
        return self._subject("deliveries.outcome")

    @property
    def address_suppressed(self) -> str:
        """dispatcher -> personalizer: an address must never be emailed again."""
        return self._subject("deliveries.address_suppressed")

    @property
    def attendance_recorded(self) -> str:
        """webinar tools and registration links -> dispatcher (and catalog for seats)."""
        return self._subject("attendance.recorded")

    @property
    def webinar_activity(self) -> str:
        """edge -> catalog: a webinar tool's verified webhook (registered, joined, left, ended)."""
        return self._subject("attendance.webinar_activity")

    @property
    def session_changed(self) -> str:
        """catalog -> personalizer: a session was rescheduled, cancelled or changed."""
        return self._subject("catalog.session_changed")

    @property
    def registration_changed(self) -> str:
        """catalog -> anyone tracking registrations: one person's registration moved."""
        return self._subject("catalog.registration_changed")

    def dead_letter(self, consumer: str) -> str:
        """Where a consumer puts a message it cannot process, with the reason."""
        return self._subject(f"deadletter.{consumer}")

    # Streams --------------------------------------------------------------------------------
    @property
    def invitations_stream(self) -> str:
        return self._stream("INVITATIONS")

    @property
    def deliveries_stream(self) -> str:
        return self._stream("DELIVERIES")

    @property
    def attendance_stream(self) -> str:
        return self._stream("ATTENDANCE")

    @property
    def catalog_stream(self) -> str:
        return self._stream("CATALOG")

    @property
    def platform_stream(self) -> str:
        return self._stream("PLATFORM")

    @property
    def dead_letter_stream(self) -> str:
        return self._stream("DEADLETTER")

    def streams(self) -> list[StreamSpec]:
        """Every stream the system needs; declared by each service at start (idempotent)."""
        return [
            StreamSpec(self.invitations_stream, [self._subject("invitations.>")]),
            StreamSpec(self.deliveries_stream, [self._subject("deliveries.>")]),
            StreamSpec(self.attendance_stream, [self._subject("attendance.>")]),
            StreamSpec(self.catalog_stream, [self._subject("catalog.>")]),
            StreamSpec(self.platform_stream, [self._subject("platform.>")]),
            StreamSpec(self.dead_letter_stream, [self._subject("deadletter.>")]),
        ]

    # Consumers ------------------------------------------------------------------------------
    @staticmethod
    def _event(subject: str, message: str) -> ConsumedEvent:
        return ConsumedEvent(subject, f"trainvite.events.v1.{message}")

    def consumers(self) -> list[ConsumerSpec]:
        """Every durable consumer of the system, with the events each one reads."""
        return [
            self.dispatcher_invitations,
            self.dispatcher_attendance,
            self.dispatcher_registrations,
            self.dispatcher_calendar,
            self.dispatcher_calendar_sessions,
            self.catalog_registrations,
            self.catalog_webinar_activity,
            self.personalizer_session_changes,
            self.personalizer_registrations,
            self.personalizer_triggers,
            self.personalizer_attendance,
            self.personalizer_suppressions,
            self.personalizer_delivery_outcomes,
        ]

    @property
    def dispatcher_invitations(self) -> ConsumerSpec:
        """The dispatcher stores one delivery per approved invitation."""
        return ConsumerSpec(
            stream=self.invitations_stream,
            durable="dispatcher-invitation-approved",
            filter_subject=self.invitation_approved,
            events=(self._event(self.invitation_approved, "InvitationApproved"),),
        )

    @property
    def dispatcher_attendance(self) -> ConsumerSpec:
        """The dispatcher tracks each invitation's attendance (applied in batches)."""
        return ConsumerSpec(
            stream=self.attendance_stream,
            durable="dispatcher-attendance",
            filter_subject=self.attendance_recorded,
            events=(self._event(self.attendance_recorded, "AttendanceRecorded"),),
        )

    @property
    def dispatcher_registrations(self) -> ConsumerSpec:
        """The dispatcher tracks each invitation's registration and place on the waitlist."""
        return ConsumerSpec(
            stream=self.catalog_stream,
            durable="dispatcher-registrations",
            filter_subject=self.registration_changed,
            events=(self._event(self.registration_changed, "RegistrationChanged"),),
        )

    @property
    def dispatcher_calendar(self) -> ConsumerSpec:
        """The dispatcher adds a registered person to the session's event in the CSM's calendar."""
        return ConsumerSpec(
            stream=self.catalog_stream,
            durable="dispatcher-calendar",
            filter_subject=self.registration_changed,
            events=(self._event(self.registration_changed, "RegistrationChanged"),),
        )

    @property
    def dispatcher_calendar_sessions(self) -> ConsumerSpec:
        """The dispatcher moves the session's events in the CSMs' calendars when the session is
        rescheduled or cancelled."""
        return ConsumerSpec(
            stream=self.catalog_stream,
            durable="dispatcher-calendar-sessions",
            filter_subject=self.session_changed,
            events=(self._event(self.session_changed, "TrainingSessionChanged"),),
        )

    @property
    def catalog_webinar_activity(self) -> ConsumerSpec:
        """The catalog pieces a webinar's joins and leaves together into attendance."""
        return ConsumerSpec(
            stream=self.attendance_stream,
            durable="catalog-webinar-activity",
            filter_subject=self.webinar_activity,
            events=(self._event(self.webinar_activity, "WebinarActivity"),),
        )

    @property
    def catalog_registrations(self) -> ConsumerSpec:
        """The catalog counts the seats taken from registration events."""
        return ConsumerSpec(
            stream=self.attendance_stream,
            durable="catalog-registrations",
            filter_subject=self.attendance_recorded,
            events=(self._event(self.attendance_recorded, "AttendanceRecorded"),),
        )

    @property
    def personalizer_session_changes(self) -> ConsumerSpec:
        """The personalizer drafts notices to the invitees of a changed session."""
        return ConsumerSpec(
            stream=self.catalog_stream,
            durable="personalizer-session-changed",
            filter_subject=self.session_changed,
            events=(self._event(self.session_changed, "TrainingSessionChanged"),),
        )

    @property
    def personalizer_registrations(self) -> ConsumerSpec:
        """The personalizer confirms a registration made through an invitation."""
        return ConsumerSpec(
            stream=self.catalog_stream,
            durable="personalizer-registrations",
            filter_subject=self.registration_changed,
            events=(self._event(self.registration_changed, "RegistrationChanged"),),
        )

    @property
    def personalizer_triggers(self) -> ConsumerSpec:
        """The personalizer drafts batches when the platform says a feature shipped, adoption
        fell or onboarding is planned."""
        return ConsumerSpec(
            stream=self.platform_stream,
            durable="personalizer-triggers",
            filter_subject=self.platform_triggers,
            events=tuple(
                ConsumedEvent(self.platform_trigger(kind), message)
                for kind, message in PLATFORM_TRIGGERS.items()
            ),
        )

    @property
    def personalizer_attendance(self) -> ConsumerSpec:
        """The personalizer keeps each person's training history."""
        return ConsumerSpec(
            stream=self.attendance_stream,
            durable="personalizer-attendance",
            filter_subject=self.attendance_recorded,
            events=(self._event(self.attendance_recorded, "AttendanceRecorded"),),
        )

    @property
    def personalizer_suppressions(self) -> ConsumerSpec:
        """The personalizer leaves suppressed addresses out when drafting."""
        return ConsumerSpec(
            stream=self.deliveries_stream,
            durable="personalizer-address-suppressed",
            filter_subject=self.address_suppressed,
            events=(self._event(self.address_suppressed, "AddressSuppressed"),),
        )

    @property
    def personalizer_delivery_outcomes(self) -> ConsumerSpec:
        """The personalizer shows delivery outcomes on the batch."""
        return ConsumerSpec(
            stream=self.deliveries_stream,
            durable="personalizer-delivery-outcome",
            filter_subject=self.delivery_outcome,
            events=(self._event(self.delivery_outcome, "DeliveryOutcome"),),
        )
