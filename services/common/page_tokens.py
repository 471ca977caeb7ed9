"""Opaque page tokens (AIP-158): a keyset position bound to the query that issued it."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from services.common.errors import InvalidArgument


def _query_key(query: Any) -> str:
    return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode(position: dict[str, Any], query: Any) -> str:
    """A token for the page after `position` of the list `query` describes."""
    raw = json.dumps({"p": position, "q": _query_key(query)}, default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, query: Any, field: str = "page_token") -> dict[str, Any]:
    """The position in `token`; InvalidArgument if it is not ours or belongs to another query."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        position: dict[str, Any] = data["p"]
        key = data["q"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument.single(field, "is not a token this service issued") from exc
    if key != _query_key(query):
        raise InvalidArgument.single(field, "belongs to a list with other filters")
    return position


def page_size(requested: int, default: int, maximum: int, field: str = "page_size") -> int:
    """0 means the default; anything outside 1..maximum is INVALID_ARGUMENT."""
    if requested == 0:
        return default
    if not 1 <= requested <= maximum:
        raise InvalidArgument.single(field, f"must be between 1 and {maximum}")
    return requested
