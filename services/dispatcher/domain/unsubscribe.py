"""Unsubscribe tokens: the address, signed, so that a link unsubscribes its recipient only."""

from __future__ import annotations

import base64
import hashlib
import hmac

from services.common.errors import InvalidArgument


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: str, email: str) -> bytes:
    return hmac.new(key.encode(), f"unsubscribe:{email}".encode(), hashlib.sha256).digest()[:16]


def unsubscribe_token(key: str, email: str) -> str:
    """The token of `email`'s one-click unsubscribe link."""
    address = email.strip().lower()
    return f"{_b64(address.encode())}.{_b64(_signature(key, address))}"


def email_from_token(key: str, token: str) -> str:
    """The address a token was made for; InvalidArgument naming `token` if it is not ours."""
    try:
        encoded, signature = token.split(".", 1)
        email = _unb64(encoded).decode()
        valid = hmac.compare_digest(_unb64(signature), _signature(key, email))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument.single("token", "is not an unsubscribe token") from exc
    if not valid:
        raise InvalidArgument.single("token", "is not an unsubscribe token")
    return email
