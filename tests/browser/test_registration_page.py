"""An invitee opens their link on a phone, sees the session in their own time, and registers:
no script needed, so it runs with JavaScript off."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, BrowserContext, expect
from trainvite.catalog.v1 import catalog_pb2 as pb

from services.common import registration_links
from tests.edge_server import edge_settings, running_edge
from tests.helpers import Clients
from tests.integration.catalog_data import in_days, new_course, new_session

pytestmark = pytest.mark.integration

TOKYO = "Asia/Tokyo"
DRAFT = f"customers/cloudtech/invitation-batches/{uuid.uuid4()}/drafts/{uuid.uuid4()}"


@pytest.fixture
async def edge(services: Clients, signing_key: str) -> AsyncIterator[str]:
    async with running_edge(edge_settings(services, signing_key)) as url:
        yield url


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, java_script_enabled=False
    )
    try:
        yield context
    finally:
        await context.close()


async def _link(
    c: Clients, signing_key: str, edge: str, email: str
) -> tuple[str, pb.TrainingSession]:
    course = await new_course(c, title=f"Alerting Deep Dive {uuid.uuid4().hex[:6]}")
    start = in_days(15).replace(hour=9, minute=0, second=0, microsecond=0)
    session = await new_session(c, course, start, zone="Europe/Paris", capacity=3)
    links = registration_links.RegistrationLinks(
        edge, registration_links.link_keys(None, signing_key)
    )
    link = links.link(DRAFT, session.name, email, TOKYO, start + dt.timedelta(hours=1))
    return link, session


async def test_open_the_link_see_the_session_in_my_zone_and_register(
    services: Clients, signing_key: str, edge: str, phone: BrowserContext
) -> None:
    link, session = await _link(services, signing_key, edge, "kenji@cloudtech.example")
    tokyo = session.start_time.ToDatetime(tzinfo=dt.UTC).astimezone(ZoneInfo(TOKYO))
    page = await phone.new_page()

    answer = await page.goto(link)
    assert answer is not None and answer.status == 200
    await expect(page.get_by_role("heading", level=1)).to_have_text(session.title)
    when = page.locator("#when")
    await expect(when).to_contain_text(f"{tokyo:%A, %B} {tokyo.day}, {tokyo.year}")
    await expect(when).to_contain_text(f"{tokyo:%I:%M %p}".lstrip("0") + " \N{EN DASH} ")
    await expect(when).to_contain_text("JST")
    await expect(page.locator("#seats")).to_have_text("3 left")
    # Readable on a phone: nothing wider than the screen.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    await page.get_by_role("button", name="Register").click()
    await expect(page.locator("#status")).to_contain_text("You're registered")
    await expect(page.get_by_role("link", name="Add to calendar")).to_be_visible()
    await expect(page.get_by_role("button", name="Cancel my registration")).to_be_visible()

    reg = await services.catalog.GetRegistration(
        pb.GetRegistrationRequest(training_session=session.name, email="kenji@cloudtech.example"),
        metadata=services.service,
    )
    assert reg.state == pb.REGISTRATION_STATE_REGISTERED

    await page.goto(link)  # coming back later shows where they stand
    await expect(page.locator("#status")).to_contain_text("You're registered")
    await page.get_by_role("button", name="Cancel my registration").click()
    await expect(page.locator("#status")).to_contain_text("Your registration is cancelled")
    await expect(page.get_by_role("button", name="Register")).to_be_visible()


async def test_a_changed_link_is_a_page_in_plain_words(
    services: Clients, signing_key: str, edge: str, phone: BrowserContext
) -> None:
    link, _ = await _link(services, signing_key, edge, "kenji@cloudtech.example")
    page = await phone.new_page()
    answer = await page.goto(link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    assert answer is not None and answer.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("This link isn't valid")
