"""The dispatcher's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from services.common.settings import CommonSettings


class DispatcherSettings(CommonSettings):
    grpc_port: int = 50053
    # local (an .eml file per message, the default with nothing else configured), gmail or smtp.
    mail_sender: Literal["local", "gmail", "smtp"] | None = None
    # The local sender writes each message as an .eml file here.
    outbox_dir: Path = Path(".data/outbox")
    # Gmail: a service account with domain-wide delegation (impersonating each CSM), or one
    # OAuth authorized-user token file for a single mailbox.
    gmail_service_account_file: Path | None = None
    gmail_token_file: Path | None = None
    # SMTP relay (at least once: a relay cannot be asked what it accepted).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    # Another Gmail API endpoint (a test double on loopback); empty means Google's.
    gmail_api_endpoint: str | None = None
    gmail_timeout_seconds: float = 30.0
    # Gmail's per-user quota (for the mailbox as a whole: every process spends from one budget
    # kept in PostgreSQL), the window it is counted over, what each call costs, and the daily cap.
    gmail_quota_units_per_minute: int = 15_000
    gmail_quota_window_seconds: float = 60.0
    gmail_send_cost: int = 100
    gmail_lookup_cost: int = 5
    gmail_position_cost: int = 1
    gmail_history_cost: int = 2
    gmail_message_cost: int = 5
    # After a rate-limit answer without Retry-After: the first pause, and the longest one that
    # answers in a row grow it to.
    rate_limit_pause_seconds: float = 30.0
    rate_limit_longest_pause_seconds: float = 120.0
    daily_send_cap: int = 2_000
    # One invitation per person within this many days, across every batch, checked again just
    # before sending (the personalizer's setting of the same name checks drafts and approvals);
    # an invitation the CSM approved with an override is sent anyway. 0 turns the check off.
    frequency_cap_days: int = 14
    # Seconds after an attempt with an unknown outcome before "not found" means "not sent".
    unknown_outcome_settle_seconds: float = 60.0
    # How often the senders' Gmail mailboxes are read for bounce reports.
    bounce_poll_seconds: float = 300.0
    # Seconds a worker's claim on a delivery holds; a killed worker's claims expire after it.
    claim_lease_seconds: float = 120.0
    # Where the one-click unsubscribe link of every message points (RFC 8058).
    unsubscribe_base_url: str = "https://trainvite.dev/unsubscribe"
    # Deliveries one worker claims at a time, how many workers, and how long they idle.
    send_batch_size: int = 20
    send_workers: int = 4
    send_poll_seconds: float = 0.5
    # Calendar sync, off unless enabled: a registration through an invitation puts the person
    # on the session's event in the inviting CSM's Google Calendar, a cancellation takes them
    # off. Credentials are the Gmail ones unless set here (a service account needs
    # https://www.googleapis.com/auth/calendar.events in its domain-wide delegation); the
    # endpoint replaces the API's base URL, https://www.googleapis.com/calendar/v3/.
    calendar_enabled: bool = False
    calendar_service_account_file: Path | None = None
    calendar_token_file: Path | None = None
    calendar_api_endpoint: str | None = None
    calendar_timeout_seconds: float = 10.0
    # host:port of the catalog (calendar sync reads the session there), and each call's deadline.
    catalog_address: str = "127.0.0.1:50051"
    catalog_deadline_seconds: float = 5.0

    def sender_kind(self) -> Literal["local", "gmail", "smtp"]:
        """As set, else gmail or smtp when configured for one, else local."""
        if self.mail_sender is not None:
            return self.mail_sender
        if self.gmail_service_account_file or self.gmail_token_file:
            return "gmail"
        if self.smtp_host:
            return "smtp"
        return "local"

    def calendar_credentials(self) -> tuple[Path | None, Path | None]:
        """(service account file, token file) calendar sync acts with: its own when set, else
        Gmail's."""
        if self.calendar_service_account_file or self.calendar_token_file:
            return self.calendar_service_account_file, self.calendar_token_file
        return self.gmail_service_account_file, self.gmail_token_file
