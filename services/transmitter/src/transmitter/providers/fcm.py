"""Push through FCM HTTP v1 (or any server speaking it, at `FCM_BASE_URL`).

`POST {base}/v1/projects/{project}/messages:send` with an OAuth 2 bearer token. The token comes from the
service account file the standard way: a JWT (RS256) asserting the account's email and the messaging scope,
exchanged at the file's `token_uri`; it is cached until a minute before it expires. `UNREGISTERED` means the
app token is gone: the dispatch fails `unregistered_token` and the transmitter clears the member's token.
`data` values travel as strings (non-strings as JSON), and the iOS payload as `apns.payload`.
"""

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import orjson

from transmitter.providers.base import UNREGISTERED_TOKEN, Outgoing, SendResult, TransientProviderError, retry_after

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


def data_value(value: Any) -> str:
    """A `data` value as FCM takes it (a string): strings as they are, anything else as JSON, which is how apps
    read them back (`true`, `null`, `{"a":1}`, never Python's `True`, `None`, `{'a': 1}`)."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def apns_config(ios_payload: Any) -> Any:
    """`message.apns` of FCM v1: an ApnsConfig (`headers`, `payload`, ...) is passed through; an APNs payload
    (`{"aps": ...}`, what an iOS developer writes) goes under its `payload`."""
    if isinstance(ios_payload, dict) and ("payload" in ios_payload or "headers" in ios_payload):
        return ios_payload
    return {"payload": ios_payload}


class FcmPush:
    name = "fcm"

    def __init__(
        self, base_url: str, project_id: str, credentials_file: str, connections: int = 100, timeout_seconds: float = 10
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self._account = orjson.loads(Path(credentials_file).read_bytes())
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections), timeout=aiohttp.ClientTimeout(total=timeout_seconds)
        )
        self._token = ""
        self._expires = 0.0
        self._refreshing = asyncio.Lock()

    async def _access_token(self, stale: str | None = None) -> str:
        async with self._refreshing:
            if self._token and self._token != stale and time.time() < self._expires - 60:
                return self._token
            now = int(time.time())
            claims = {"iss": self._account["client_email"], "scope": SCOPE, "aud": self._account["token_uri"],
                      "iat": now, "exp": now + 3600}  # fmt: skip
            assertion = jwt.encode(claims, self._account["private_key"], algorithm="RS256")
            grant = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
            async with self._session.post(self._account["token_uri"], data=grant) as response:
                if response.status != 200:
                    raise TransientProviderError(f"token endpoint answered {response.status}")
                answer = await response.json(content_type=None)
            self._token = str(answer["access_token"])
            self._expires = now + float(answer.get("expires_in", 3600))
            return self._token

    @staticmethod
    def body(message: Outgoing) -> dict[str, Any]:
        content = message.content
        notification = {k: v for k, v in {"title": content.get("subject"), "body": content.get("body"),
                                          "image": content.get("image_url")}.items() if v}  # fmt: skip
        data = {str(k): data_value(v) for k, v in (content.get("data") or {}).items()}
        if content.get("url"):
            data["url"] = str(content["url"])
        push: dict[str, Any] = {"token": message.recipient, "notification": notification}
        if data:
            push["data"] = data
        if content.get("android_payload"):
            push["android"] = content["android_payload"]
        if content.get("ios_payload"):
            push["apns"] = apns_config(content["ios_payload"])
        return {"message": push}

    async def send(self, message: Outgoing) -> SendResult:
        token = await self._access_token()
        status, answer, wait = await self._post(message, token)
        if status == 401:  # the token was revoked or expired early: one fresh one, one more try
            status, answer, wait = await self._post(message, await self._access_token(stale=token))
        if status == 200:
            return SendResult(message.dispatch_id, str(answer.get("name", "")), provider=self.name)
        if status == 429 or status >= 500:
            raise TransientProviderError(str(status), wait)
        error: dict[str, Any] = answer["error"] if isinstance(answer.get("error"), dict) else {}
        codes = {d.get("errorCode") for d in error.get("details", []) if isinstance(d, dict)}
        if "UNREGISTERED" in codes:
            return SendResult(message.dispatch_id, error=UNREGISTERED_TOKEN, provider=self.name)
        reason = f"{status} {error.get('status', '')} {error.get('message', '')}".strip()
        return SendResult(message.dispatch_id, error=f"provider_rejected: {reason}", provider=self.name)

    async def _post(self, message: Outgoing, token: str) -> tuple[int, dict[str, Any], float | None]:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._session.post(self._url, json=self.body(message), headers=headers) as response:
                answer = await response.json(content_type=None) if response.status < 500 else {}
                wait = retry_after(response.headers.get("Retry-After"))
                return response.status, answer if isinstance(answer, dict) else {}, wait
        except aiohttp.ClientConnectorError as exc:
            raise TransientProviderError(f"connect: {exc}") from exc

    async def close(self) -> None:
        await self._session.close()
