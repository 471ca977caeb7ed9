"""`make call`: an RPC found by its short or full name, a request read from JSON."""

from __future__ import annotations

import pytest

from tools.call import call, every_rpc, find


def test_an_rpc_is_found_by_any_tail_of_its_full_name() -> None:
    for name in (
        "GetTrainingGaps",
        "PersonalizerService/GetTrainingGaps",
        "trainvite.personalizer.v1.PersonalizerService/GetTrainingGaps",
        "/trainvite.personalizer.v1.PersonalizerService/GetTrainingGaps",
    ):
        key, method = find(name)
        assert (key, method.full_name) == (
            "personalizer",
            "trainvite.personalizer.v1.PersonalizerService.GetTrainingGaps",
        )
    assert find("GetBatchDeliveryStatus")[0] == "dispatcher"
    assert "CatalogService/ListTrainingSessions" in every_rpc()


def test_an_unknown_rpc_or_a_request_that_is_not_json_is_refused_before_any_call() -> None:
    with pytest.raises(SystemExit, match="is not an RPC"):
        find("Gaps")
    with pytest.raises(SystemExit, match="not a GetTrainingGapsRequest"):
        call("GetTrainingGaps", '{"nmae": "x"}', "token", {})
