"""The dispatcher's settings."""

from __future__ import annotations

from pathlib import Path

from services.common.settings import CommonSettings


class DispatcherSettings(CommonSettings):
    grpc_port: int = 50053
    # The local sender (the default) writes each message as an .eml file here.
    outbox_dir: Path = Path(".data/outbox")
    # Where the one-click unsubscribe link of every message points (RFC 8058).
    unsubscribe_base_url: str = "https://trainvite.dev/unsubscribe"
    # Deliveries one worker claims at a time, and how long it idles when none is due.
    send_batch_size: int = 20
    send_poll_seconds: float = 0.5
