"""Sending through an SMTP relay with the standard library.

SMTP has no way to look a message up afterwards: a send whose outcome is unknown (a connection
lost after DATA) is sent again once the settle time has passed, so a relay gives at least once,
not exactly once. Prefer the Gmail sender where that matters.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from services.dispatcher.service_layer.ports import (
    OutcomeUnknownError,
    PermanentSendError,
    SendResult,
    TransientSendError,
)


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int = 587,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout_seconds

    async def send(self, message: EmailMessage) -> SendResult:
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> SendResult:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentSendError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
            reason = f"{exc.smtp_code} {text}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentSendError(reason) from exc
            raise TransientSendError(reason) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise OutcomeUnknownError(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            raise PermanentSendError(f"recipient refused: {refused}")
        return SendResult(provider_message_id=str(message["Message-ID"]))

    async def find(self, sender: str, message_id: str) -> str | None:
        """A relay cannot be asked what it accepted."""
        return None
