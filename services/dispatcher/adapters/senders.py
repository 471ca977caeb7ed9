"""The development sender: each message written as an .eml file."""

from __future__ import annotations

import asyncio
import os
import re
from email.message import EmailMessage
from pathlib import Path

from services.dispatcher.service_layer.ports import SendResult


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
