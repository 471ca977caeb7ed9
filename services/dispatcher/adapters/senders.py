"""Ways to hand a message to the world, behind one small interface."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class PermanentSendError(Exception):
    """The provider refused the message for good (a bad address): do not retry."""


class TransientSendError(Exception):
    """Not sent, try again later: the provider is busy or unreachable."""


class RateLimitedError(TransientSendError):
    """Not sent: the mailbox is over its quota; rest the whole mailbox, for `retry_after` when
    the provider said how long."""

    def __init__(self, message: str, retry_after: dt.timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HistoryExpiredError(Exception):
    """The mailbox no longer keeps history from that position: look the message up otherwise."""


class OutcomeUnknownError(Exception):
    """The request may have been accepted (timeout, dropped connection, 5xx): look the message
    up by its Message-ID before trying again, never resend blind."""


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> SendResult:
        """Send once; raise PermanentSendError, TransientSendError (RateLimitedError) or
        OutcomeUnknownError on failure."""
        ...

    async def find(self, sender: str, message_id: str) -> str | None:
        """The provider's id of a message sent from `sender` with this Message-ID, if any;
        TransientSendError when the lookup itself fails."""
        ...


@dataclass(frozen=True)
class SentPage:
    """Provider ids of messages added to the mailbox's sent mail, and where the next page starts."""

    provider_message_ids: list[str]
    next_page: str | None


class MailboxHistory(Protocol):
    """A mailbox's change history, which, unlike its search index, is up to date at once."""

    async def position(self, mailbox: str) -> str:
        """Where the mailbox's history stands now (Gmail's historyId)."""
        ...

    async def sent_since(self, mailbox: str, position: str, page: str | None) -> SentPage:
        """Messages added to the sent mail after `position`, a page at a time;
        HistoryExpiredError when the history no longer reaches back that far."""
        ...

    async def message_id(self, mailbox: str, provider_message_id: str) -> str | None:
        """The RFC 5322 Message-ID of one message; None when it is gone."""
        ...


class LocalOutboxSender:
    """Writes each message as an .eml file named after its Message-ID (the development default).

    A message already written is not written again, so a retried send stays one file.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, message_id: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9@._-]", "", message_id)
        return self._directory / f"{safe}.eml"

    async def send(self, message: EmailMessage) -> SendResult:
        message_id = str(message["Message-ID"])
        path = self._path(message_id)
        data = message.as_bytes()
        await asyncio.to_thread(_write_once, path, data)
        return SendResult(provider_message_id=path.name)

    async def find(self, sender: str, message_id: str) -> str | None:
        path = self._path(message_id)
        return path.name if path.exists() else None


def _write_once(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    if path.exists():
        return
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a reader never sees half a message
