"""Hand-made JWT claims for the tests that try tokens the services must refuse."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from services.common.auth import AUDIENCE, ISSUER
from services.platform.seed import CSM_EMAIL


def claims(**changes: Any) -> dict[str, Any]:
    """A valid CSM token's claims with `changes` applied; a change to None removes the claim."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    made: dict[str, Any] = {
        "sub": CSM_EMAIL,
        "kind": "csm",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        # Far off: tokens may be made when a module is collected, and each bad one must be
        # refused for its own fault, not for having expired while the suite ran.
        "exp": now + 86_400,
    }
    for name, value in changes.items():
        if value is None:
            made.pop(name, None)
        else:
            made[name] = value
    return made


def b64(data: dict[str, Any]) -> str:
    """A JWT segment: unpadded base64url of the JSON."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(token_claims: dict[str, Any]) -> str:
    """A token that says `alg: none` and carries no signature."""
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(token_claims)}."
