"""Drafts rendered from the real templates: escaping, header safety, calendar invitation."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator

import icalendar
import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined, UndefinedError, meta, nodes
from markupsafe import escape

from services.common import registration_links
from services.common.errors import InvalidArgument
from services.common.registration_links import LinkKeys, RegistrationLinks
from services.personalizer.adapters.rendering import TEMPLATE_DIR, InvitationRenderer
from services.personalizer.adapters.template_sandbox import SandboxLimits, TemplateSandbox
from services.personalizer.domain.model import Angle
from services.personalizer.domain.selection import Assessment, assess
from tests.unit.test_selection import CUSTOMER, LOW, POWER, SESSION, person

NOW = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
DRAFT = f"customers/cloudtech/invitation-batches/{uuid.uuid4()}/drafts/{uuid.uuid4()}"
LINK_KEY = "link-key-0123456789abcdef0123456789abcdef"
TEMPLATE_PARTS = ("subject.txt", "body.txt", "body.html")


def render(assessment: Assessment) -> tuple[str, str, str, str]:
    content, _, _ = InvitationRenderer().render(assessment, CUSTOMER, SESSION, DRAFT, NOW)
    return content.subject, content.text_body, content.html_body, content.calendar_ics


def test_a_name_with_html_stays_text_in_the_html_body() -> None:
    who = person("operations_leader", display_name="<b>Eve</b> O'Neil", time_zone="Europe/London")
    a = assess(who, CUSTOMER, SESSION, LOW, False)
    assert isinstance(a, Assessment)
    _, text, html, _ = render(a)
    assert "Hi <b>Eve</b>," in text  # plain text is not HTML
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html and "<b>Eve</b>" not in html


def test_the_subject_is_one_line_whatever_the_template_gives() -> None:
    who = person("data_analyst", display_name="Mike\r\nBcc: x@evil.example")
    a = assess(who, CUSTOMER, SESSION, POWER, False)
    assert isinstance(a, Assessment) and a.angle is Angle.GO_DEEPER
    subject, *_ = render(a)
    assert "\n" not in subject and "\r" not in subject


def test_the_calendar_invitation_parses_and_holds_the_right_instant() -> None:
    a = assess(person("operations_leader", email="sarah@x.dev"), CUSTOMER, SESSION, LOW, False)
    assert isinstance(a, Assessment)
    *_, ics = render(a)
    calendar = icalendar.Calendar.from_ical(ics)
    assert calendar["METHOD"] == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    assert event.decoded("DTSTART") == SESSION.start_time
    assert event.decoded("DTEND") - event.decoded("DTSTART") == dt.timedelta(minutes=90)
    assert str(event["UID"]) == "s1@trainvite.dev"
    assert str(event["ATTENDEE"]) == "mailto:sarah@x.dev"


def test_every_angle_has_its_templates_and_they_use_only_known_variables() -> None:
    a = assess(person("operations_leader"), CUSTOMER, SESSION, LOW, False)
    assert isinstance(a, Assessment)
    renderer = InvitationRenderer()
    _, _, context = renderer.render(a, CUSTOMER, SESSION, DRAFT, NOW)
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR), undefined=StrictUndefined, autoescape=True
    )
    # Rendering (StrictUndefined) catches an unknown name or attribute on the path taken; the
    # parse catches an unknown name in any branch, taken or not.
    names = [f"{angle.value}/{part}" for angle in Angle for part in TEMPLATE_PARTS]
    names += ["_base/body.txt", "_base/body.html", "_macros.txt"]
    for angle in Angle:
        subject, text, html = renderer.render_angle(angle, context)
        assert subject.strip() and text.strip() and html.strip(), angle
    for name in names:
        source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        tree = env.parse(source)
        # `{% import ... as m %}` at the top is seen from the blocks, which Jinja2 checks apart.
        imported = {i.target for i in tree.find_all(nodes.Import)}
        unknown = meta.find_undeclared_variables(tree) - set(context) - imported
        assert not unknown, f"{name} uses {sorted(unknown)}, which no render context holds"
    with pytest.raises(UndefinedError):
        env.from_string("{{ nobody.knows }}").render()


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[TemplateSandbox]:
    pool = TemplateSandbox(SandboxLimits(), workers=1)
    yield pool
    await pool.close()


async def test_a_csms_own_template_sees_the_variables_and_nothing_else(
    sandbox: TemplateSandbox,
) -> None:
    a = assess(person("operations_leader"), CUSTOMER, SESSION, LOW, False)
    assert isinstance(a, Assessment)
    renderer = InvitationRenderer(sandbox=sandbox)
    _, _, context = renderer.render(a, CUSTOMER, SESSION, DRAFT, NOW)
    subject, text, html = await renderer.render_own(
        "For {{ recipient.first_name }}\nBcc: x", "Dear {{ recipient.first_name }} & co", context
    )
    assert subject == "For operations_leader Bcc: x"  # one line, always
    assert text.startswith("Dear operations_leader & co")
    assert "&amp; co" in html
    with pytest.raises(InvalidArgument) as err:
        await renderer.render_own("Hi", "{{ recipient.__class__.__init__.__globals__ }}", context)
    assert [v.field for v in err.value.violations] == ["body_template"]


async def test_a_csms_own_body_keeps_the_register_button_of_the_angle_templates(
    sandbox: TemplateSandbox,
) -> None:
    a = assess(person("operations_leader"), CUSTOMER, SESSION, LOW, False)
    assert isinstance(a, Assessment)
    renderer = InvitationRenderer(sandbox=sandbox)
    content, link, context = renderer.render(a, CUSTOMER, SESSION, DRAFT, NOW)
    angle_button = re.search(
        r'<a href="([^"]+)" style="([^"]+)">Register Now &rarr;</a>', content.html_body
    )
    assert angle_button and angle_button.group(1) == str(escape(link))
    _, text, html = await renderer.render_own(
        "Hi",
        "Hi {{ recipient.first_name }},\n\nRegister now: {{ registration_url }}\n\nBest",
        context,
    )
    assert f"Register now: {link}" in text
    button = re.search(r'<a href="([^"]+)" style="([^"]+)"[^>]*>Register now &rarr;</a>', html)
    assert button and button.group(1) == str(escape(link))
    assert button.group(2) == angle_button.group(2)  # the same look


async def test_edited_html_is_sanitized_and_bounded_in_size() -> None:
    renderer = InvitationRenderer(max_html_bytes=1024)
    clean = await renderer.clean_html('<p onclick="x()">Hi<script>alert(1)</script></p>')
    assert "<p>Hi</p>" in clean and "script" not in clean and "onclick" not in clean
    assert await renderer.clean_html("  ") == ""
    with pytest.raises(InvalidArgument) as err:
        await renderer.clean_html("<p>" + "x" * 1024 + "</p>")
    assert [(v.field, v.description) for v in err.value.violations] == [
        ("draft.content.html_body", "must be at most 1 KiB")
    ]


def test_the_register_link_is_the_edges_page_for_a_signed_token() -> None:
    who = person("operations_leader", email="Sarah@x.dev", time_zone="Asia/Singapore")
    a = assess(who, CUSTOMER, SESSION, LOW, False)
    assert isinstance(a, Assessment)
    keys = LinkKeys.parse(f"k1:{LINK_KEY}")
    renderer = InvitationRenderer(links=RegistrationLinks("https://go.trainvite.dev", keys))
    content, link, context = renderer.render(a, CUSTOMER, SESSION, DRAFT, NOW)
    assert link.startswith("https://go.trainvite.dev/r/")
    # The session's own registration URL stays out: the link follows the occurrence.
    assert SESSION.registration_url not in link
    claims = registration_links.verify(keys, link.removeprefix("https://go.trainvite.dev/r/"), NOW)
    assert claims.invitation == DRAFT
    assert claims.training_session == SESSION.name
    assert claims.email == "Sarah@x.dev"
    assert claims.tz == "Asia/Singapore"
    assert claims.expires == SESSION.start_time + SESSION.duration + dt.timedelta(days=30)
    assert context["registration_url"] == link
    assert f"{link}" in content.text_body
    assert str(escape(link)) in content.html_body
    event = icalendar.Calendar.from_ical(content.calendar_ics).walk("VEVENT")[0]
    assert link in str(event["DESCRIPTION"]).replace("\n", "\n")


def test_each_draft_has_a_link_of_its_own() -> None:
    a = assess(person("operations_leader"), CUSTOMER, SESSION, LOW, False)
    assert isinstance(a, Assessment)
    keys = LinkKeys.parse(f"k1:{LINK_KEY}")
    renderer = InvitationRenderer(links=RegistrationLinks("https://go.trainvite.dev/", keys))
    other = DRAFT.rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
    _, first, _ = renderer.render(a, CUSTOMER, SESSION, DRAFT, NOW)
    _, second, _ = renderer.render(a, CUSTOMER, SESSION, other, NOW)
    assert first != second
    assert "//r/" not in first
    token = second.rsplit("/", 1)[1]
    assert registration_links.verify(keys, token, NOW).invitation == other


def test_a_link_signed_by_a_renderer_without_keys_verifies_nowhere_else() -> None:
    a = assess(person("operations_leader"), CUSTOMER, SESSION, LOW, False)
    assert isinstance(a, Assessment)
    _, link, _ = InvitationRenderer().render(a, CUSTOMER, SESSION, DRAFT, NOW)
    with pytest.raises(registration_links.ForgedLink):
        registration_links.verify(LinkKeys.parse(f"k1:{LINK_KEY}"), link.rsplit("/", 1)[1], NOW)
