"""What Google's token endpoint reads, for the fake Gmail and Calendar endpoints."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def jwt_bearer_claims(data: bytes) -> dict[str, Any] | None:
    """The claims of an OAuth 2.0 JWT bearer grant (RFC 7523), as a service account with
    domain-wide delegation sends it; None for any other request (answered invalid_grant)."""
    form = parse_qs(data.decode())
    assertion = form.get("assertion", [""])[0]
    payload = assertion.split(".")[1] if assertion.count(".") == 2 else ""
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded) or b"{}")
    if form.get("grant_type", [""])[0] != JWT_BEARER or "sub" not in claims:
        return None
    return claims
