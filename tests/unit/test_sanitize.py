"""HTML a CSM edits keeps only what email clients render; text a CSM writes keeps its links."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from services.personalizer.adapters.email_html import BODY_STYLE, from_text, sanitize

HOSTILE = """<!DOCTYPE html><html><head><title>Secret title</title>
<style>body { background: url(https://tracker.example/css) }</style>
<meta http-equiv="refresh" content="0;url=https://evil.example"><base href="https://evil.example/">
</head><body onload="steal()">
<p onclick="steal()">Hello <b>Sarah</b>,<script>alert('x')</script></p>
<img src="x" onerror="alert(1)"><img src="http://tracker.example/p.gif">
<img src="data:image/png;base64,iVBORw0KGgo=" alt="data">
<img src="https://cdn.example/logo.png" alt="Logo" width="120" height="40">
<a href="javascript:alert(1)">js link</a> <a href="JaVaScRiPt:alert(1)">js upper</a>
<a href="jav&#x09;ascript:alert(1)">js tab</a>
<a href="data:text/html,<script>x</script>">data link</a>
<a href="vbscript:msgbox(1)">vb</a> <a href="/relative">relative</a>
<a href="https://train.example/r/abc" target="_blank" style="font-weight: bold;">Register Now</a>
<a href="mailto:alex@trainvite.dev">mail me</a>
<iframe src="https://evil.example">framed text</iframe>
<form action="https://evil.example"><input name="password" value="pw">form text</form>
<svg onload="alert(1)"><text>svg text</text></svg><object data="https://evil.example/x.swf">obj</object>
<span style="color: red; position: fixed; background-image: url(https://tracker.example)">red</span>
<div style="width: expression(alert(1))">expr</div>
<p style="color: #333; font-weight: bold">styled</p>
<table><thead><tr><th>Date</th></tr></thead>
<tbody><tr><td colspan="2">Dec 3</td></tr></tbody></table>
<ul><li>one</li></ul><ol><li>two</li></ol><h2>Heading</h2><blockquote>quote</blockquote><hr>
<!-- a comment --><em>em</em> <strong>strong</strong> <i>i</i> <u>u</u>
</body></html>"""

FORBIDDEN = [
    "<script", "alert(", "onerror", "onload", "onclick", "javascript:", "vbscript:", "data:",
    "<iframe", "<form", "<input", "<style", "<svg", "<object", "<meta", "<base", "url(",
    "expression(", "position", "target=", "tracker.example", "evil.example", "<!--", "<title",
    "Secret title", "/relative",
]  # fmt: skip


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def test_edited_html_keeps_only_what_email_clients_render() -> None:
    clean = sanitize(HOSTILE)
    lowered = clean.lower()
    for forbidden in FORBIDDEN:
        assert forbidden.lower() not in lowered, forbidden
    elements = parsed(clean)
    for tag, attributes in elements.tags:
        assert not any(name.startswith("on") for name in attributes), (tag, attributes)
        if tag == "a" and "href" in attributes:
            assert re.match(r"(https?|mailto):", attributes["href"] or ""), attributes
            assert attributes["rel"] == "noopener noreferrer"
        if tag == "img" and "src" in attributes:
            assert (attributes["src"] or "").startswith("https://"), attributes
    text = " ".join("".join(elements.text).split())
    for kept in (
        "Hello Sarah",
        "js link",
        "Register Now",
        "mail me",
        "form text",
        "red",
        "styled",
        "Dec 3",
        "Heading",
        "quote",
    ):
        assert kept in text, kept


def test_links_images_tables_and_harmless_style_survive() -> None:
    clean = sanitize(HOSTILE)
    assert (
        '<a href="https://train.example/r/abc" style="font-weight:bold" '
        'rel="noopener noreferrer">Register Now</a>' in clean
    )
    assert '<a href="mailto:alex@trainvite.dev" rel="noopener noreferrer">' in clean
    assert '<img src="https://cdn.example/logo.png" alt="Logo" width="120" height="40">' in clean
    assert '<p style="color:#333;font-weight:bold">styled</p>' in clean
    assert '<td colspan="2">Dec 3</td>' in clean
    assert "<span>red</span>" in clean  # a style that loads something is dropped whole


def test_the_result_is_a_whole_document_with_the_templates_look() -> None:
    clean = sanitize("<p>Hi</p>")
    assert clean.startswith("<!DOCTYPE html>")
    assert f'<body style="{BODY_STYLE}">\n<p>Hi</p>\n</body>' in clean
    assert sanitize(clean) == clean  # sanitizing again changes nothing


@pytest.mark.parametrize(
    "payload",
    [
        '<a href="java\nscript:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)//>",
        "<scr<script>ipt>alert(1)</script>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
        '<a href="https://ok.example" onmouseover="alert(1)">x</a>',
        '<p style="background:url(javascript:alert(1))">x</p>',
        '<div style="color: red; behavior: url(x.htc)">x</div>',
    ],
)
def test_known_bypasses_stay_inert(payload: str) -> None:
    lowered = sanitize(payload).lower()
    for forbidden in ("<script", "onerror", "onmouseover", "javascript:", "url(", "behavior"):
        assert forbidden not in lowered, (payload, lowered)


REGISTRATION = "https://train.example/r/abc?d=1&s=2"


def test_text_becomes_paragraphs_with_links_and_the_register_button() -> None:
    html = from_text(
        "Hi Sarah & team,\n\nSlides: https://docs.example/deck.\n"
        f"Register now: {REGISTRATION}\n\nBest,\nAlex <alex@trainvite.dev>",
        REGISTRATION,
    )
    assert "<p>Hi Sarah &amp; team,</p>" in html
    assert (
        'Slides: <a href="https://docs.example/deck" rel="noopener noreferrer">'
        "https://docs.example/deck</a>." in html
    )
    assert (
        '<p><a href="https://train.example/r/abc?d=1&amp;s=2" style="font-weight: bold;" '
        'rel="noopener noreferrer">Register now &rarr;</a></p>' in html
    )
    assert "<p>Best,<br>\nAlex &lt;alex@trainvite.dev&gt;</p>" in html
    assert sanitize(html).count("Register now") == 1  # what we make survives the sanitizer


def test_a_bare_registration_link_is_the_register_now_button() -> None:
    html = from_text(f"Hi\n{REGISTRATION}", REGISTRATION)
    assert "<p>Hi</p>" in html
    assert 'style="font-weight: bold;" rel="noopener noreferrer">Register Now &rarr;</a>' in html


def test_the_registration_link_inside_a_sentence_stays_a_plain_link() -> None:
    html = from_text(f"Sign up at {REGISTRATION} before Friday.", REGISTRATION)
    assert (
        '<p>Sign up at <a href="https://train.example/r/abc?d=1&amp;s=2" '
        'rel="noopener noreferrer">https://train.example/r/abc?d=1&amp;s=2</a> before Friday.</p>'
    ) in html


@pytest.mark.parametrize(
    "text",
    [
        'https://x.example/"><script>alert(1)</script>',
        "https://x.example/a'onmouseover='alert(1)",
        "javascript:alert(1) and data:text/html,<b>x</b>",
        "<img src=x onerror=alert(1)>",
    ],
)
def test_text_that_looks_like_markup_stays_text(text: str) -> None:
    html = from_text(text, REGISTRATION)
    elements = parsed(html)
    assert {tag for tag, _ in elements.tags} <= {"html", "body", "p", "a", "br"}
    for tag, attributes in elements.tags:
        if tag == "a":
            assert set(attributes) <= {"href", "rel", "style"}
            assert (attributes["href"] or "").startswith("https://")
