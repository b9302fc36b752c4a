"""Email over SMTP (any relay) with aiosmtplib: pooled connections, a proper MIME message per dispatch.

Each message is multipart/alternative (a text part made from the HTML, and the HTML with the preheader as
hidden preview text), `From: "name" <address>` with the address as the envelope sender, a `Message-ID` naming
the dispatch (the provider message id, so bounces can be correlated), and for a marketing mail to a member the
one-click `List-Unsubscribe` headers.
"""

import asyncio
import uuid
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from shared.email_address import split_from
from transmitter.providers.base import Outgoing, SendResult, TransientProviderError
from transmitter.providers.mail import html_to_text, html_with_preheader, unsubscribe_headers


class SmtpEmail:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        connections: int = 4,
        timeout_seconds: float = 10,
        message_id_domain: str = "messaging.local",
    ) -> None:
        self._options = {"hostname": host, "port": port, "username": username or None,
                         "password": password or None, "start_tls": starttls, "timeout": timeout_seconds}  # fmt: skip
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[aiosmtplib.SMTP] = []
        self._domain = message_id_domain

    def build(self, message: Outgoing) -> tuple[EmailMessage, str]:
        """The MIME message and its envelope sender (the From address, never its display name)."""
        content = message.content
        name, address = split_from(str(content.get("from") or ""))
        email = EmailMessage()
        email["From"] = Address(display_name=name, addr_spec=address) if name else address
        email["To"] = message.recipient
        email["Subject"] = str(content.get("subject") or "")
        email["Date"] = formatdate(localtime=False, usegmt=True)
        email["Message-ID"] = f"<dispatch-{message.dispatch_id}.{uuid.uuid4().hex}@{self._domain}>"
        for header, value in unsubscribe_headers(message.unsubscribe_url).items():
            email[header] = value
        body = str(content.get("body") or "")
        email.set_content(html_to_text(body) or " ")
        email.add_alternative(html_with_preheader(body, content.get("preheader")), subtype="html")
        return email, address

    async def send(self, message: Outgoing) -> SendResult:
        email, sender = self.build(message)
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                if client is None or not client.is_connected:
                    client = aiosmtplib.SMTP(**self._options)  # type: ignore[arg-type]
                    await client.connect()
            except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, OSError) as exc:
                raise TransientProviderError(f"connect: {exc}") from exc
            try:
                await client.send_message(email, sender=sender, recipients=[message.recipient])
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._idle.append(client)
                code, text = next(iter(exc.recipients)).code, next(iter(exc.recipients)).message
                return self._refused(message, code, text)
            except aiosmtplib.SMTPResponseException as exc:
                self._idle.append(client)
                return self._refused(message, exc.code, exc.message)
            self._idle.append(client)
        return SendResult(message.dispatch_id, str(email["Message-ID"]), provider=self.name)

    def _refused(self, message: Outgoing, code: int, text: str) -> SendResult:
        if 400 <= code < 500:  # the relay says: later
            raise TransientProviderError(f"{code} {text}")
        return SendResult(message.dispatch_id, error=f"provider_rejected: {code} {text}", provider=self.name)

    async def close(self) -> None:
        for client in self._idle:
            if client.is_connected:
                await client.quit()
        self._idle.clear()
