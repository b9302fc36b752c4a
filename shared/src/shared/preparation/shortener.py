"""`shorten_urls` (spec §3.3, 5): every http(s) URL of an sms body becomes a short link served at /s/{code}.

Codes are derived from the sending, the URL and, when clicks are tracked per recipient, the recipient,
so preparing a chunk again yields the same codes and the links table never holds a code twice.
"""

import base64
import hashlib
import re
from dataclasses import dataclass, field

URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"


def short_code(sending_id: int, url: str, recipient_key: str | None) -> str:
    digest = hashlib.blake2b(f"{sending_id}\x00{recipient_key or ''}\x00{url}".encode(), digest_size=8).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class Shortener:
    """Rewrites bodies of one sending and collects the links a chunk needs stored."""

    sending_id: int
    base_url: str
    per_recipient: bool
    links: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # code -> (url, recipient_key)

    def shorten(self, body: str, recipient_key: str) -> str:
        def replace(match: re.Match[str]) -> str:
            url = match.group(0)
            trailing = ""
            while url and url[-1] in _TRAILING:  # punctuation ending a sentence is not part of the link
                url, trailing = url[:-1], url[-1] + trailing
            key = recipient_key if self.per_recipient else None
            code = short_code(self.sending_id, url, key)
            self.links[code] = (url, key)
            return f"{self.base_url}/s/{code}{trailing}"

        return URL.sub(replace, body)

    def take_links(self) -> list[tuple[str, str, str | None]]:
        """(code, url, recipient_key) collected since the last call."""
        links = [(code, url, key) for code, (url, key) in self.links.items()]
        self.links = {}
        return links
