"""The Gmail adapter's history calls and rate-limit answers, through the real
google-api-python-client to the fake Gmail on loopback (no services, no database)."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.dispatcher.adapters.gmail import GmailHistory, GmailSender
from services.dispatcher.service_layer.ports import HistoryExpiredError, RateLimitedError
from tests.fakes.gmail import Behaviour, FakeGmail, token_file

pytestmark = pytest.mark.integration

CSM = "alex.rivera@trainvite.dev"


def _message(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = CSM
    message["To"] = f"person{n}@example.com"
    message["Subject"] = f"Invitation {n}"
    message["Message-ID"] = f"<m{n}@trainvite.dev>"
    message.set_content("Hello")
    return message


def _sender(gmail: FakeGmail, tmp_path: Path) -> GmailSender:
    return GmailSender(token_file=token_file(tmp_path / "token.json", CSM), api_endpoint=gmail.url)


async def test_sent_messages_are_found_in_the_history_page_by_page(tmp_path: Path) -> None:
    with FakeGmail(Behaviour(history_page_size=2, search_lag_seconds=60)) as gmail:
        sender = _sender(gmail, tmp_path)
        history = GmailHistory(sender)
        await sender.send(_message(0))
        position = await history.position(CSM)
        sent = [(await sender.send(_message(n))).provider_message_id for n in range(1, 6)]
        listed: list[str] = []
        page = None
        while True:
            result = await history.sent_since(CSM, position, page)
            listed += result.provider_message_ids
            if result.next_page is None:
                break
            page = result.next_page
        assert listed == sent  # only what was added after the position, every page
        assert await history.message_id(CSM, sent[2]) == "<m3@trainvite.dev>"
        assert await history.message_id(CSM, "no-such-id") is None
        # The search index has not caught up yet: the history is what can be trusted.
        assert await sender.find(CSM, "<m3@trainvite.dev>") is None


async def test_an_expired_history_position_is_told_apart(tmp_path: Path) -> None:
    with FakeGmail(Behaviour(history_kept=1)) as gmail:
        sender = _sender(gmail, tmp_path)
        history = GmailHistory(sender)
        position = await history.position(CSM)
        for n in range(3):
            await sender.send(_message(n))
        with pytest.raises(HistoryExpiredError):
            await history.sent_since(CSM, position, None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", dt.timedelta(seconds=7)), (None, None)],
)
async def test_a_429_carries_the_providers_retry_after(
    tmp_path: Path, header: str | None, expected: dt.timedelta | None
) -> None:
    with FakeGmail(Behaviour(rate_limit_sends={1}, retry_after=header)) as gmail:
        with pytest.raises(RateLimitedError) as refused:
            await _sender(gmail, tmp_path).send(_message(1))
        assert refused.value.retry_after == expected
        assert gmail.delivered(CSM) == []
