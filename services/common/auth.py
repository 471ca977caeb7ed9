"""Caller identity: signed bearer tokens naming who calls and as what kind of caller.

A token is an HS256 JWT with `sub` (a person's email or a service's name), `kind` (below),
issuer and audience "trainvite", `iat` and `exp`, and optionally `nbf`. Anything else is refused:
another algorithm (`none` included), another key, a token expired or not valid yet, another
issuer or audience, a missing claim, a kind we do not know. Which kind may call which method is
in services/common/authorization.py; which customers a CSM may act for is checked where each
resource is loaded.
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
REQUIRED_CLAIMS = ("sub", "kind", "iss", "aud", "iat", "exp")
# Clocks of the issuing and the checking host may differ a little.
CLOCK_SKEW = dt.timedelta(seconds=30)


class CallerKind(enum.StrEnum):
    """Who is calling, which decides the methods they may call."""

    # A person acting for the customers assigned to them.
    CSM = "csm"
    # A person who maintains the catalog's courses and sessions.
    CATALOG_EDITOR = "catalog_editor"
    # One of trainvite's services calling another (the personalizer reading the catalog).
    SERVICE = "service"
    # The chat gateway on an invitee's behalf: one-click unsubscribe with the link's token. When
    # it acts for a CSM it passes that CSM's own token instead.
    GATEWAY = "gateway"


# People are named by their email address; the rest by a plain name.
_PEOPLE = frozenset({CallerKind.CSM, CallerKind.CATALOG_EDITOR})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of the current request."""

    subject: str
    kind: CallerKind

    def may_act_for(self, assigned_csm_email: str) -> bool:
        """True when this caller is the CSM the customer (or mailbox) is assigned to. No other
        caller acts for a customer: the gateway passes the CSM's own token to do so."""
        return self.kind is CallerKind.CSM and self.subject.lower() == assigned_csm_email.lower()


class InvalidToken(Exception):
    """The bearer token is malformed, not signed with our key, or its claims do not hold."""


class ExpiredToken(InvalidToken):
    """The bearer token was valid but its time is up: the caller should get a new one."""


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
        "nbf": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_token(key: str, token: str) -> Principal:
    """Check the algorithm, signature, times, issuer, audience and claims; return the caller.

    The exception's text says what failed, for the service's log; callers are told less.
    """
    try:
        # PyJWT refuses any algorithm not listed; the header is checked as well so that a
        # token naming another algorithm is refused by name, whatever the library's version.
        if jwt.get_unverified_header(token).get("alg") != ALGORITHM:
            raise InvalidToken("algorithm is not HS256")
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=CLOCK_SKEW,
            options={"require": list(REQUIRED_CLAIMS), "verify_iat": True, "verify_nbf": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise ExpiredToken("token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    issued = claims["iat"]
    if (
        not isinstance(issued, int | float)
        or dt.datetime.fromtimestamp(issued, dt.UTC) > dt.datetime.now(dt.UTC) + CLOCK_SKEW
    ):
        raise InvalidToken("token issued in the future")
    try:
        kind = CallerKind(claims["kind"])
    except ValueError as exc:
        raise InvalidToken("unknown caller kind") from exc
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidToken("empty subject")
    if kind in _PEOPLE and "@" not in subject:
        raise InvalidToken("a person is named by their email address")
    return Principal(subject=subject.strip(), kind=kind)


_current: contextvars.ContextVar[Principal] = contextvars.ContextVar("trainvite_principal")


def set_current_principal(principal: Principal) -> contextvars.Token[Principal]:
    """Bind the caller of the request being served (done by the auth interceptor)."""
    return _current.set(principal)


def current_principal() -> Principal:
    """The caller of the request being served."""
    return _current.get()
