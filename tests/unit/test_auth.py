"""Bearer tokens (who is calling) and the authorization policy (what each caller may call)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import pytest
from trainvite.catalog.v1 import catalog_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2
from trainvite.personalizer.v1 import personalizer_pb2

from services.common.auth import (
    CallerKind,
    ExpiredToken,
    InvalidToken,
    Principal,
    issue_token,
    verify_token,
)
from services.common.authorization import POLICY, allows
from tests.tokens import claims, unsigned

KEY = "unit-test-key-0123456789abcdef0123456789"
ALEX = "alex@x.dev"


def test_a_token_names_its_caller() -> None:
    for kind, subject in (
        (CallerKind.CSM, ALEX),
        (CallerKind.CATALOG_EDITOR, "casey@x.dev"),
        (CallerKind.SERVICE, "personalizer"),
        (CallerKind.GATEWAY, "gateway"),
    ):
        assert verify_token(KEY, issue_token(KEY, subject, kind)) == Principal(subject, kind)


def _signed(**changes: Any) -> str:
    return jwt.encode(claims(**changes), KEY, algorithm="HS256")


NOW = int(dt.datetime.now(dt.UTC).timestamp())

BAD_TOKENS = {
    "another key": issue_token("another-key-0123456789abcdef0123456789", ALEX, CallerKind.CSM),
    "alg none": unsigned(claims()),
    "alg none with a signature": (
        unsigned(claims()) + issue_token(KEY, ALEX, CallerKind.CSM).rsplit(".", 1)[1]
    ),
    "HS512 with our key": jwt.encode(claims(), KEY + KEY, algorithm="HS512"),
    "not a jwt": "not-a-jwt",
    "garbage parts": "x.y.z",
    "empty": "",
    "wrong issuer": _signed(iss="elsewhere"),
    "wrong audience": _signed(aud="elsewhere"),
    "not yet valid": _signed(nbf=NOW + 3600),
    "issued in the future": _signed(iat=NOW + 3600, exp=NOW + 7200),
    "unknown kind": _signed(kind="admin"),
    "kind not a string": _signed(kind=["csm"]),
    "empty subject": _signed(sub=" "),
    "a person without an address": _signed(sub="alex"),
    "an editor without an address": _signed(kind="catalog_editor", sub="casey"),
    **{f"no {claim}": _signed(**{claim: None}) for claim in ("sub", "kind", "iss", "aud", "iat")},
}


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        verify_token(KEY, token)
    assert not isinstance(refused.value, ExpiredToken)


def test_expired_tokens_are_refused_as_expired() -> None:
    for token in (
        issue_token(KEY, ALEX, CallerKind.CSM, ttl=dt.timedelta(minutes=-5)),
        _signed(exp=NOW - 300),
    ):
        with pytest.raises(ExpiredToken):
            verify_token(KEY, token)
    with pytest.raises(InvalidToken):
        verify_token(KEY, _signed(exp=None))


def test_only_a_csm_acts_for_customers_and_only_for_their_own() -> None:
    csm = Principal("Alex@x.dev", CallerKind.CSM)
    assert csm.may_act_for("alex@x.dev")
    assert not csm.may_act_for("jordan@x.dev")
    for kind in (CallerKind.SERVICE, CallerKind.GATEWAY, CallerKind.CATALOG_EDITOR):
        assert not Principal("alex@x.dev", kind).may_act_for("alex@x.dev")


# The policy ------------------------------------------------------------------------------------

SERVICES = [
    catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
    personalizer_pb2.DESCRIPTOR.services_by_name["PersonalizerService"],
    dispatcher_pb2.DESCRIPTOR.services_by_name["DispatcherService"],
]
ALL_METHODS = {f"/{s.full_name}/{m.name}" for s in SERVICES for m in s.methods}


def test_the_policy_names_every_rpc_of_every_service_and_nothing_else() -> None:
    assert ALL_METHODS - POLICY.keys() == set(), "an RPC without a policy entry is denied to all"
    assert POLICY.keys() - ALL_METHODS == set(), "an entry for an RPC that does not exist"
    assert all(POLICY.values()), "an entry that admits nobody: leave the RPC out or name a kind"


def test_a_method_missing_from_the_policy_is_denied_to_everyone() -> None:
    for kind in CallerKind:
        assert not allows("/trainvite.catalog.v1.CatalogService/DropEverything", kind)


def test_who_may_call_what() -> None:
    def callers(method: str) -> set[CallerKind]:
        return {k for k in CallerKind if allows(method, k)}

    catalog = "/trainvite.catalog.v1.CatalogService/"
    for write in (
        "CreateCourse",
        "UpdateCourse",
        "CancelCourse",
        "CreateTrainingSession",
        "UpdateTrainingSession",
        "CancelTrainingSession",
    ):
        assert callers(catalog + write) == {CallerKind.CATALOG_EDITOR}
    # What the personalizer asks the catalog for, and what CSMs and editors read.
    for read in (
        "GetCourse",
        "ListCourses",
        "GetTrainingSession",
        "ListTrainingSessions",
        "SearchTrainingSessions",
        "ListAlternativeSessions",
    ):
        assert callers(catalog + read) == {
            CallerKind.CSM,
            CallerKind.CATALOG_EDITOR,
            CallerKind.SERVICE,
        }
    # Customers' data, drafts and deliveries: their CSM only (the gateway passes the CSM's token).
    for method in ALL_METHODS - {m for m in ALL_METHODS if m.startswith(catalog)}:
        if method.endswith("/Unsubscribe"):
            assert callers(method) == {CallerKind.CSM, CallerKind.GATEWAY}
        else:
            assert callers(method) == {CallerKind.CSM}, method
    # The gateway on its own behalf does one thing only.
    assert {m for m in ALL_METHODS if allows(m, CallerKind.GATEWAY)} == {
        "/trainvite.dispatcher.v1.DispatcherService/Unsubscribe"
    }
