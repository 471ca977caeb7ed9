"""Bearer tokens: who is calling, and whom they may act for."""

from __future__ import annotations

import datetime as dt

import pytest

from services.common.auth import CallerKind, InvalidToken, Principal, issue_token, verify_token

KEY = "unit-test-key-0123456789abcdef0123456789"


def test_a_token_names_its_caller() -> None:
    principal = verify_token(KEY, issue_token(KEY, "alex@x.dev", CallerKind.CSM))
    assert principal == Principal("alex@x.dev", CallerKind.CSM)


@pytest.mark.parametrize(
    "token",
    [
        issue_token("another-key-0123456789abcdef0123456789", "alex@x.dev", CallerKind.CSM),
        issue_token(KEY, "alex@x.dev", CallerKind.CSM, ttl=dt.timedelta(seconds=-1)),
        "not-a-jwt",
    ],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(KEY, token)


def test_a_csm_acts_for_their_own_customers_and_a_service_for_all() -> None:
    csm = Principal("Alex@x.dev", CallerKind.CSM)
    assert csm.may_act_for("alex@x.dev")
    assert not csm.may_act_for("jordan@x.dev")
    assert Principal("gateway", CallerKind.SERVICE).may_act_for("jordan@x.dev")
