"""What the fake Gmail and Calendar endpoints share: Google's JSON answers and errors, the
caller's access token, and the token endpoint's JWT bearer grant."""

from __future__ import annotations

import base64
import json
from http.server import BaseHTTPRequestHandler
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


class GoogleApiHandler(BaseHTTPRequestHandler):
    """Answers as a Google API does: JSON bodies, errors in Google's shape."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle's algorithm and the
    # client's delayed ack add 40 ms to every answer.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def _user(self) -> str:
        """Who calls: the fake token endpoint issues the impersonated address as the token."""
        return self.headers.get("Authorization", "").removeprefix("Bearer ").strip()

    def _reply(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _no_content(self) -> None:
        """204, as Google answers a delete."""
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _error(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        error = {
            "code": status,
            "message": reason,
            "errors": [{"reason": reason, "message": reason}],
        }
        self._reply(status, {"error": error}, headers)

    def _issue_token(self, claims: dict[str, Any]) -> None:
        """The access token for a granted request: the impersonated user's address."""
        self._reply(
            200, {"access_token": claims["sub"], "token_type": "Bearer", "expires_in": 3600}
        )
