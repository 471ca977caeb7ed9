"""The fingerprint of an invitation's content, recorded at approval and checked before sending."""

from __future__ import annotations

import hashlib


def content_sha256(subject: str, text_body: str, html_body: str, calendar_ics: str) -> str:
    """SHA-256 over the length-prefixed parts, so no two different contents collide by shifting."""
    digest = hashlib.sha256()
    for part in (subject, text_body, html_body, calendar_ics):
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()
