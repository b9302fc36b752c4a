"""Email through the SendGrid v3 Mail Send API (or any server speaking it, at `SENDGRID_BASE_URL`).

`POST {base}/v3/mail/send` with a bearer API key; our dispatch id travels in `custom_args`, so the signed
event webhook names it back. SendGrid answers 202 with `X-Message-Id`, the provider message id its events
carry as the first part of `sg_message_id`. The body is the one SMTP sends: the HTML with its preheader as hidden
preview text, a text part made from it, and for a marketing mail to a member the one-click unsubscribe headers.
"""

from typing import Any

import aiohttp

from shared.email_address import split_from
from transmitter.providers.base import Outgoing, SendResult, TransientProviderError, retry_after
from transmitter.providers.mail import html_to_text, html_with_preheader, unsubscribe_headers


class SendGridEmail:
    name = "sendgrid"

    def __init__(self, base_url: str, api_key: str, connections: int = 100, timeout_seconds: float = 10) -> None:
        self._url = f"{base_url.rstrip('/')}/v3/mail/send"
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {api_key}"},
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        )

    @staticmethod
    def body(message: Outgoing) -> dict[str, Any]:
        content = message.content
        from_name, from_email = split_from(str(content.get("from") or ""))
        sender: dict[str, str] = {"email": from_email}
        if from_name:
            sender["name"] = from_name
        html = str(content.get("body") or "")
        body: dict[str, Any] = {
            "personalizations": [{"to": [{"email": message.recipient}],
                                  "custom_args": {"dispatch_id": str(message.dispatch_id)}}],
            "from": sender,
            "subject": str(content.get("subject") or ""),
            "content": [{"type": "text/plain", "value": html_to_text(html) or " "},
                        {"type": "text/html", "value": html_with_preheader(html, content.get("preheader")) or " "}],
        }  # fmt: skip
        if headers := unsubscribe_headers(message.unsubscribe_url):
            body["headers"] = headers
        return body

    async def send(self, message: Outgoing) -> SendResult:
        try:
            async with self._session.post(self._url, json=self.body(message)) as response:
                if response.status == 429 or response.status >= 500:
                    raise TransientProviderError(str(response.status), retry_after(response.headers.get("Retry-After")))
                if response.status == 202 and response.headers.get("X-Message-Id"):
                    return SendResult(message.dispatch_id, response.headers["X-Message-Id"], provider=self.name)
                text = (await response.text())[:300]
        except aiohttp.ClientConnectorError as exc:
            raise TransientProviderError(f"connect: {exc}") from exc
        return SendResult(message.dispatch_id, error=f"provider_rejected: {response.status} {text}", provider=self.name)

    async def close(self) -> None:
        await self._session.close()
