"""Registration links: signed by the first key, verified by any, and every refusal by name."""

from __future__ import annotations

import base64
import datetime as dt
import json

import jwt
import pytest

from services.common.registration_links import (
    ExpiredLink,
    ForgedLink,
    LinkClaims,
    LinkKeys,
    MalformedLink,
    RegistrationLinks,
    expiry_for,
    link_keys,
    sign,
    verify,
)

OLD = "old-secret-0123456789abcdef0123456789"
NEW = "new-secret-0123456789abcdef0123456789"
NOW = dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC)
DRAFT = "customers/acme/invitation-batches/5d2f3a44-9b55-4ad6-9a4c-08a0a3f1a6b1/drafts/" + (
    "0b8f4f3e-1a55-4bb1-8c5e-6a2a6a1e0c11"
)
SESSION = "training-sessions/1b0c5a7e-45a1-4a52-93e5-2f0f5f2b9e10"
CLAIMS = LinkClaims(
    invitation=DRAFT,
    training_session=SESSION,
    email="wei.chen@acme.example",
    tz="Asia/Singapore",
    expires=NOW + dt.timedelta(days=40),
)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _payload(token: str) -> dict[str, object]:
    part = _segments(token)[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def test_a_link_carries_who_is_invited_to_what() -> None:
    keys = LinkKeys.parse(f"k1:{NEW}")
    token = sign(keys, CLAIMS, NOW)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    payload = _payload(token)
    assert payload["iss"] == payload["aud"] == "trainvite-links"
    assert verify(keys, token, NOW) == CLAIMS


def test_the_first_key_signs_and_every_key_verifies() -> None:
    before = LinkKeys.parse(f"k1:{OLD}")
    after = LinkKeys.parse(f"k2:{NEW}, k1:{OLD}")
    old_link = sign(before, CLAIMS, NOW)
    new_link = sign(after, CLAIMS, NOW)
    assert jwt.get_unverified_header(new_link)["kid"] == "k2"
    assert verify(after, old_link, NOW) == CLAIMS
    assert verify(after, new_link, NOW) == CLAIMS
    # Once the old key is dropped, its links stop working.
    with pytest.raises(ForgedLink):
        verify(LinkKeys.parse(f"k2:{NEW}"), old_link, NOW)


def test_a_token_signed_with_another_key_is_forged() -> None:
    stranger = LinkKeys.parse(f"k1:{'x' * 40}")
    with pytest.raises(ForgedLink, match="signature"):
        verify(LinkKeys.parse(f"k1:{NEW}"), sign(stranger, CLAIMS, NOW), NOW)


def test_a_token_naming_a_key_we_do_not_hold_is_forged() -> None:
    with pytest.raises(ForgedLink, match="key we do not hold"):
        verify(LinkKeys.parse(f"k1:{NEW}"), sign(LinkKeys.parse(f"k9:{NEW}"), CLAIMS, NOW), NOW)
    token = jwt.encode({"email": "a@b.c"}, NEW, algorithm="HS256")  # no kid at all
    with pytest.raises(ForgedLink):
        verify(LinkKeys.parse(f"k1:{NEW}"), token, NOW)


def test_a_changed_claim_breaks_the_signature() -> None:
    keys = LinkKeys.parse(f"k1:{NEW}")
    header, _, signature = _segments(sign(keys, CLAIMS, NOW))
    payload = _payload(sign(keys, CLAIMS, NOW))
    payload["email"] = "mallory@evil.example"
    with pytest.raises(ForgedLink):
        verify(keys, f"{header}.{_b64(payload)}.{signature}", NOW)


def test_another_algorithm_is_refused_even_none() -> None:
    keys = LinkKeys.parse(f"k1:{NEW}")
    payload = _payload(sign(keys, CLAIMS, NOW))
    unsigned = f"{_b64({'alg': 'none', 'kid': 'k1'})}.{_b64(payload)}."
    with pytest.raises(ForgedLink, match="algorithm"):
        verify(keys, unsigned, NOW)


def test_a_bearer_token_of_the_services_is_not_a_link() -> None:
    keys = LinkKeys.parse(f"k1:{NEW}")
    claims = {**_payload(sign(keys, CLAIMS, NOW)), "iss": "trainvite", "aud": "trainvite"}
    token = jwt.encode(claims, NEW, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(ForgedLink):
        verify(keys, token, NOW)


def test_an_expired_link_says_so() -> None:
    keys = LinkKeys.parse(f"k1:{NEW}")
    token = sign(keys, CLAIMS, NOW)
    assert verify(keys, token, CLAIMS.expires) == CLAIMS
    with pytest.raises(ExpiredLink):
        verify(keys, token, CLAIMS.expires + dt.timedelta(minutes=5))
    past = LinkClaims(**{**CLAIMS.__dict__, "expires": dt.datetime.now(dt.UTC) - dt.timedelta(1)})
    with pytest.raises(ExpiredLink):
        verify(keys, sign(keys, past, dt.datetime.now(dt.UTC) - dt.timedelta(2)))


def test_an_expired_forgery_is_a_forgery() -> None:
    past = LinkClaims(**{**CLAIMS.__dict__, "expires": dt.datetime.now(dt.UTC) - dt.timedelta(1)})
    forged = sign(LinkKeys.parse(f"k1:{'y' * 40}"), past, dt.datetime.now(dt.UTC) - dt.timedelta(2))
    with pytest.raises(ForgedLink):
        verify(LinkKeys.parse(f"k1:{NEW}"), forged)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "not a token at all", "%%%.%%%.%%%"])
def test_garbage_is_malformed(token: str) -> None:
    with pytest.raises(MalformedLink):
        verify(LinkKeys.parse(f"k1:{NEW}"), token, NOW)


def test_a_genuine_token_missing_a_claim_is_malformed() -> None:
    keys = LinkKeys.parse(f"k1:{NEW}")
    payload = _payload(sign(keys, CLAIMS, NOW))
    del payload["training_session"]
    token = jwt.encode(payload, NEW, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(MalformedLink, match="training_session"):
        verify(keys, token, NOW)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("", "at least one"),
        ("k1", "look like"),
        ("k1:short", "at least 32 bytes"),
        (f"k1:{NEW},k1:{OLD}", "twice"),
        (f"k 1:{NEW}", "key id"),
    ],
)
def test_bad_key_settings_are_refused_at_start(setting: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LinkKeys([]) if not setting else LinkKeys.parse(setting)


def test_without_keys_set_one_is_derived_from_the_token_key() -> None:
    one = link_keys(None, "service-token-key")
    assert one.ids == ("derived",)
    again = link_keys("  ", "service-token-key")
    assert verify(again, sign(one, CLAIMS, NOW), NOW) == CLAIMS
    assert one.secret("derived") != "service-token-key"
    assert link_keys(f"k2:{NEW}", "service-token-key").ids == ("k2",)
    assert "secret" not in repr(link_keys(f"k2:{NEW}", "x"))


def test_a_link_lives_until_some_time_after_its_session_ends() -> None:
    end = dt.datetime(2027, 2, 4, 20, 30, tzinfo=dt.UTC)
    assert expiry_for(end) == end + dt.timedelta(days=30)
    links = RegistrationLinks("https://edge.example/", LinkKeys.parse(f"k1:{NEW}"))
    url = links.link(DRAFT, SESSION, "wei.chen@acme.example", "Asia/Singapore", end, NOW)
    assert url.startswith("https://edge.example/r/")
    claims = verify(links.keys, url.removeprefix("https://edge.example/r/"), NOW)
    assert claims.expires == end + dt.timedelta(days=30)
