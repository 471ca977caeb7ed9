"""Caller identity: signed bearer tokens naming a CSM or a service.

A token is an HS256 JWT with `sub` (the CSM's email or the service's name), `kind` ("csm" or
"service"), issuer and audience "trainvite", and an expiry. Services trust every service caller
and let a CSM act only on the customers assigned to them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import enum
from dataclasses import dataclass

import jwt

ISSUER = "trainvite"
AUDIENCE = "trainvite"
ALGORITHM = "HS256"


class CallerKind(enum.StrEnum):
    """Who is calling: a person (CSM) or one of our services or the gateway."""

    CSM = "csm"
    SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of the current request."""

    subject: str
    kind: CallerKind

    @property
    def is_service(self) -> bool:
        """Services act for any customer."""
        return self.kind is CallerKind.SERVICE

    def may_act_for(self, assigned_csm_email: str) -> bool:
        """True when this caller may see and change a customer assigned to that CSM."""
        return self.is_service or self.subject.lower() == assigned_csm_email.lower()


class InvalidToken(Exception):
    """The bearer token is missing, malformed, expired or not signed with our key."""


def issue_token(
    key: str, subject: str, kind: CallerKind, ttl: dt.timedelta = dt.timedelta(hours=12)
) -> str:
    """Sign a token for `subject`."""
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": subject,
        "kind": kind.value,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_token(key: str, token: str) -> Principal:
    """Check the signature, expiry, issuer and audience; return who the token names."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iss", "aud"]},
        )
        return Principal(subject=str(claims["sub"]), kind=CallerKind(str(claims.get("kind"))))
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc


_current: contextvars.ContextVar[Principal] = contextvars.ContextVar("trainvite_principal")


def set_current_principal(principal: Principal) -> contextvars.Token[Principal]:
    """Bind the caller of the request being served (done by the auth interceptor)."""
    return _current.set(principal)


def current_principal() -> Principal:
    """The caller of the request being served."""
    return _current.get()
