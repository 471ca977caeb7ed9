"""The HTML part of an invitation when a CSM wrote it: sanitized HTML, or HTML made from text.

Only what email clients render survives an edit: an allow-list of tags and attributes, links
to http, https and mailto only, images from https only, and a few inert style properties. The
result goes back into the same document shell the angle templates use, so it looks the same.
"""

from __future__ import annotations

import re

import nh3
from markupsafe import escape

# The look of the angle templates (services/personalizer/templates/_base/body.html).
BODY_STYLE = "font-family: Arial, Helvetica, sans-serif; line-height: 1.5; color: #1f2933;"
BUTTON_STYLE = "font-weight: bold;"
BUTTON_LABEL = "Register Now"

_TAGS = {
    "a", "b", "blockquote", "br", "caption", "code", "div", "em", "h1", "h2", "h3", "h4", "hr",
    "i", "img", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
# Tags dropped together with their content: what they hold is code or chrome, not message text.
_DROPPED_WITH_CONTENT = {
    "script", "style", "title", "iframe", "object", "embed", "noscript", "template", "svg",
    "math", "textarea", "select", "applet", "frame", "frameset", "noembed", "noframes",
}  # fmt: skip
_CELL = {"align", "valign", "width", "height", "colspan", "rowspan", "bgcolor"}
_ATTRIBUTES = {
    "*": {"style", "title", "dir", "lang", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "border"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor"},
    "td": _CELL,
    "th": _CELL,
    "tr": {"valign", "bgcolor"},
    "ol": {"start"},
}
# Style properties that only change how text and boxes look: none of them can load anything.
_STYLE_PROPERTIES = {
    "color", "background-color", "font-family", "font-size", "font-style", "font-weight",
    "line-height", "text-align", "text-decoration", "vertical-align", "white-space",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-color",
    "border-style", "border-width", "border-radius", "border-collapse",
    "width", "max-width", "height", "display",
}  # fmt: skip
# Values that could load a resource or run code in some renderer, even in an allowed property.
_UNSAFE_STYLE_VALUE = re.compile(r"url\s*\(|expression\s*\(|\\|/\*|@import|javascript:", re.I)


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Images only from https (an http image is a tracker that leaks over plain text); style
    only when no value can fetch or run anything."""
    if tag == "img" and attribute == "src":
        return value if value.lower().startswith("https://") else None
    if attribute == "style" and _UNSAFE_STYLE_VALUE.search(value):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_DROPPED_WITH_CONTENT,
    attributes=_ATTRIBUTES,
    attribute_filter=_keep_attribute,
    strip_comments=True,
    link_rel="noopener noreferrer",
    url_schemes={"http", "https", "mailto"},
    filter_style_properties=_STYLE_PROPERTIES,
    url_relative="deny",
)


def document(body: str) -> str:
    """A body fragment inside the same shell as the angle templates."""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<body style="{BODY_STYLE}">\n'
        f"{body.strip()}\n</body>\n</html>\n"
    )


def sanitize(html: str) -> str:
    """An edited HTML body reduced to what email clients render, as a whole document; an empty
    body stays empty (the message then has no HTML part)."""
    if not html.strip():
        return ""
    return document(_CLEANER.clean(html))


# A URL in running text: stops at whitespace and at characters that end a URL in prose.
_URL = re.compile(r"""https?://[^\s<>"'`]+""", re.I)
_TRAILING = ".,;:!?)]}'\""


def _linked(line: str) -> str:
    """One line of text, escaped, with each http(s) URL a link."""
    out: list[str] = []
    at = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(_TRAILING)
        out.append(str(escape(line[at : match.start()])))
        out.append(f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(url)}</a>')
        at = match.start() + len(url)
    out.append(str(escape(line[at:])))
    return "".join(out)


def _button(url: str, label: str) -> str:
    return (
        f'<a href="{escape(url)}" style="{BUTTON_STYLE}" rel="noopener noreferrer">'
        f"{escape(label)} &rarr;</a>"
    )


def _registration_line(line: str, registration_url: str) -> str | None:
    """The button, when a line is the registration link alone or a label and the link
    ("Register now: https://..."), as the angle templates write it; None otherwise."""
    stripped = line.strip()
    if not registration_url or not stripped.endswith(registration_url):
        return None
    label = stripped[: -len(registration_url)].strip()
    if not label:
        return _button(registration_url, BUTTON_LABEL)
    if label.endswith(":") and len(label) <= 60 and "http" not in label.lower():
        return _button(registration_url, label[:-1].strip() or BUTTON_LABEL)
    return None


def from_text(text: str, registration_url: str) -> str:
    """The HTML part for a body a CSM wrote as text: escaped, one paragraph per blank line, URLs
    as links, and the registration link as the same Register button the angle templates have."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    blocks: list[str] = []
    for paragraph in paragraphs:
        lines: list[str] = []
        for line in paragraph.splitlines():
            button = _registration_line(line, registration_url)
            if button is None:
                lines.append(_linked(line))
                continue
            # The button stands in its own paragraph, as in the angle templates.
            if lines:
                blocks.append("<p>" + "<br>\n".join(lines) + "</p>")
                lines = []
            blocks.append(f"<p>{button}</p>")
        if lines:
            blocks.append("<p>" + "<br>\n".join(lines) + "</p>")
    return document("\n".join(blocks))
