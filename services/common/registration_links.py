"""Registration links: what an invitation's "Register" button carries, signed.

A link is `{base}/r/{token}`, the token an HS256 JWT whose header's `kid` names the key that
signed it and whose claims say who was invited to what: `invitation` (the draft's name),
`training_session` (the occurrence's name, so the link follows the session wherever it moves),
`email`, `tz` (the invitee's IANA zone, for showing times), `iat`, `exp`, and issuer and audience
"trainvite-links" (a bearer token of the services, signed with another key anyway, is never a
link). The personalizer signs; the HTTP edge verifies.

Keys rotate: several are held by id, the first signs and every one verifies, so a new key is put
first and the old one dropped once the links it signed have expired. The refusals are classes of
their own, so that the edge can answer each in plain words: a token that is not one at all
(`MalformedLink`), one not signed by a key we hold or altered since (`ForgedLink`), one whose time
is up (`ExpiredLink`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

ISSUER = "trainvite-links"
AUDIENCE = "trainvite-links"
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("invitation", "training_session", "email", "tz", "iat", "exp", "iss", "aud")
# Clocks of the signing and the verifying host may differ a little.
CLOCK_SKEW = dt.timedelta(seconds=30)
# A link keeps working this long after its session ends: the invitee may still want the page.
DEFAULT_VALID_AFTER_END = dt.timedelta(days=30)
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Below this, HMAC-SHA256 keys are guessable; PyJWT warns about them too.
_SHORTEST_SECRET = 32


class InvalidLink(Exception):
    """A registration link's token that is not to be acted on."""


class MalformedLink(InvalidLink):
    """Not a registration token at all: cut short, garbled, or missing what every link holds."""


class ForgedLink(InvalidLink):
    """Not signed by a key we hold, or changed since it was signed."""


class ExpiredLink(InvalidLink):
    """A genuine link whose time is up."""


@dataclass(frozen=True)
class LinkClaims:
    """Who a link invites to what."""

    invitation: str
    training_session: str
    email: str
    # The invitee's IANA zone; empty when unknown (times are then shown in the session's zone).
    tz: str
    expires: dt.datetime


class LinkKeys:
    """Signing keys by id, in order: the first signs, every one verifies."""

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        if not keys:
            raise ValueError("give at least one registration link key")
        seen: dict[str, str] = {}
        for kid, secret in keys:
            if not _KEY_ID.fullmatch(kid):
                raise ValueError(f"key id {kid!r} must be 1 to 64 letters, digits, '_', '.', '-'")
            if kid in seen:
                raise ValueError(f"key id {kid!r} is given twice")
            if len(secret.encode()) < _SHORTEST_SECRET:
                raise ValueError(f"key {kid!r} must be at least {_SHORTEST_SECRET} bytes")
            seen[kid] = secret
        self._keys = seen
        self._signing = keys[0][0]

    @classmethod
    def parse(cls, text: str) -> LinkKeys:
        """From "k2:secret2,k1:secret1" (the first signs)."""
        pairs: list[tuple[str, str]] = []
        for item in text.split(","):
            kid, sep, secret = item.strip().partition(":")
            if not sep:
                raise ValueError("registration link keys look like 'k2:secret2,k1:secret1'")
            pairs.append((kid.strip(), secret.strip()))
        return cls(pairs)

    @classmethod
    def derived_from(cls, secret: str, kid: str = "derived") -> LinkKeys:
        """One key derived from another secret (the services' token key): what a development
        setup uses when no link keys are set, so that the personalizer and the edge agree
        without another secret to hand out. Deployments set their own keys, which can rotate."""
        derived = hmac.new(secret.encode(), b"trainvite registration links", hashlib.sha256)
        return cls([(kid, derived.hexdigest())])

    @classmethod
    def random(cls) -> LinkKeys:
        """A key nobody else holds: links that verify nowhere but here."""
        return cls([("local", secrets.token_urlsafe(48))])

    @property
    def signing_id(self) -> str:
        return self._signing

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def secret(self, kid: str) -> str | None:
        return self._keys.get(kid)

    def __repr__(self) -> str:
        return f"LinkKeys(ids={self.ids!r})"


def link_keys(configured: str | None, fallback_secret: str) -> LinkKeys:
    """The keys a setting gives, or when it is empty one derived from `fallback_secret`."""
    if configured and configured.strip():
        return LinkKeys.parse(configured)
    return LinkKeys.derived_from(fallback_secret)


def sign(keys: LinkKeys, claims: LinkClaims, now: dt.datetime | None = None) -> str:
    """The token of a link, signed with the first key."""
    issued = now or dt.datetime.now(dt.UTC)
    payload = {
        "invitation": claims.invitation,
        "training_session": claims.training_session,
        "email": claims.email,
        "tz": claims.tz,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": claims.expires,
    }
    secret = keys.secret(keys.signing_id)
    assert secret is not None
    return jwt.encode(
        payload, secret, algorithm=ALGORITHM, headers={"kid": keys.signing_id, "typ": "JWT"}
    )


def verify(keys: LinkKeys, token: str, now: dt.datetime | None = None) -> LinkClaims:
    """The claims of a genuine, unexpired link; MalformedLink, ForgedLink or ExpiredLink else.

    The signature is checked before anything the token says is believed: a forged token is
    ForgedLink even when its claims say it has expired.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise MalformedLink(f"not a token: {exc}") from exc
    if header.get("alg") != ALGORITHM:
        raise ForgedLink("algorithm is not HS256")
    kid = header.get("kid")
    secret = keys.secret(kid) if isinstance(kid, str) else None
    if secret is None:
        raise ForgedLink(f"signed with a key we do not hold ({kid!r})")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=CLOCK_SKEW,
            # iat only records when a link was made (by the drafting service's clock); the
            # signed exp alone decides how long it works.
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_exp": now is None,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise ForgedLink("signature does not match") from exc
    except jwt.ExpiredSignatureError as exc:
        raise ExpiredLink("link expired") from exc
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
        # Our key's signature on something that is not a link.
        raise ForgedLink(str(exc)) from exc
    except jwt.PyJWTError as exc:
        raise MalformedLink(str(exc)) from exc
    expires = claims["exp"]
    if not isinstance(expires, int | float):
        raise MalformedLink("exp is not a time")
    expiry = dt.datetime.fromtimestamp(expires, dt.UTC)
    if now is not None and now > expiry + CLOCK_SKEW:
        raise ExpiredLink("link expired")
    texts = {name: claims[name] for name in ("invitation", "training_session", "email", "tz")}
    if not all(isinstance(v, str) for v in texts.values()):
        raise MalformedLink("a claim is not text")
    if not texts["training_session"] or "@" not in texts["email"]:
        raise MalformedLink("no session or no address")
    return LinkClaims(
        invitation=texts["invitation"],
        training_session=texts["training_session"],
        email=texts["email"],
        tz=texts["tz"],
        expires=expiry,
    )


def expiry_for(
    session_end: dt.datetime, after_end: dt.timedelta = DEFAULT_VALID_AFTER_END
) -> dt.datetime:
    """When a link to a session ending at `session_end` stops working."""
    return session_end.astimezone(dt.UTC) + after_end


@dataclass(frozen=True)
class RegistrationLinks:
    """Makes the "Register" link of an invitation."""

    base_url: str
    keys: LinkKeys
    valid_after_end: dt.timedelta = DEFAULT_VALID_AFTER_END

    def link(
        self,
        invitation: str,
        training_session: str,
        email: str,
        tz: str,
        session_end: dt.datetime,
        now: dt.datetime | None = None,
    ) -> str:
        token = sign(
            self.keys,
            LinkClaims(
                invitation=invitation,
                training_session=training_session,
                email=email,
                tz=tz,
                expires=expiry_for(session_end, self.valid_after_end),
            ),
            now,
        )
        return f"{self.base_url.rstrip('/')}/r/{token}"
