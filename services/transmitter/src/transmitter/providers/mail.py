"""What every email provider builds the same way from a dispatch: the HTML with its preheader, the text part, and
the one-click unsubscribe headers. SMTP and SendGrid both use these, so a mail reads the same through either."""

import html
import re
from html.parser import HTMLParser

# Hidden from the reader in every client we know of, shown by the inbox as the preview text.
PREHEADER_STYLE = "display:none;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all"
_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(body: str) -> str:
    """The text of an HTML body, on one line: the text/plain part of the mail."""
    parser = _Text()
    parser.feed(body)
    return " ".join(" ".join(parser.parts).split())


def html_with_preheader(body: str, preheader: object) -> str:
    """The HTML body with the preheader as hidden preview text at its start (right after `<body>` when the
    body is a whole document), escaped; the body as it is without a preheader."""
    if not preheader:
        return body
    hidden = f'<span style="{PREHEADER_STYLE}">{html.escape(str(preheader))}</span>'
    tag = _BODY_TAG.search(body)
    if tag is None:
        return hidden + body
    return body[: tag.end()] + hidden + body[tag.end() :]


def unsubscribe_headers(url: str | None) -> dict[str, str]:
    """`List-Unsubscribe` with one-click (RFC 8058) for a marketing mail with its link; nothing without one."""
    if not url:
        return {}
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
