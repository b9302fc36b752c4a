"""What `messaging-admin` does, as the API's clients see it: a revoked token is refused, and the sample members
are reached both by a marketing and by a non-marketing sending."""

from __future__ import annotations

import asyncio

import pytest
from tests.integration.api.conftest import Api
from tests.paths import EXAMPLES

from api.admin.cli import main
from api.admin.importer import import_members

IN_OSLO = [{"condition_group": "member_properties", "field": "city", "operator": "match", "value": "Oslo"}]
MESSAGE = {"message": {"name": "Sample", "channels": [
    {"type": "sms", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": "Hei"}}}},
    {"type": "email", "template": {"type": "inline", "definition": {
        "type": "email", "content": {"subject": "Hei", "body": "<p>Hei</p>"}}}},
]}}  # fmt: skip


async def admin(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The command run off the loop that serves the API: (exit code, stdout)."""
    code = await asyncio.to_thread(main, list(args))
    return code, capsys.readouterr().out


async def test_a_revoked_client_is_refused_by_the_api_and_the_other_clients_are_not(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await api.tenant()
    slug = headers["X-Loyalty-Club-Slug"]
    monkeypatch.setenv("DATABASE_URL", api.database_url)
    code, out = await admin(capsys, "create-client", "--lc", slug, "--name", "other", "--all-permits")
    other = {**headers, "X-Client-Authorization": out.splitlines()[-1]}
    assert (await api.call("GET", "/v1/messages/settings", headers))[0] == 200
    clients = (await admin(capsys, "list-clients", "--lc", slug))[1].splitlines()
    client_id = clients[1].split()[0]

    code, out = await admin(capsys, "revoke-client", client_id)

    assert code == 0
    assert out.startswith(f"revoked API client {client_id} at ")
    assert await api.call("GET", "/v1/messages/settings", headers) == (
        401, {"error": "Invalid API token for this loyalty club"}
    )  # fmt: skip
    assert (await api.call("GET", "/v1/messages/settings", other))[0] == 200


@pytest.mark.parametrize(("service", "marketing"), [("campaigns", True), ("generic", False)])
async def test_the_sample_members_are_reached_by_a_marketing_and_a_non_marketing_sending(
    api: Api, service: str, marketing: bool
) -> None:
    headers = await api.tenant()
    summary = await import_members(api.database_url, EXAMPLES / "members.jsonl", headers["X-Loyalty-Club-Slug"],
                                   progress=None)  # fmt: skip
    assert (summary.imported, summary.rejected) == (30, 0)
    code, created = await api.call("POST", f"/v1/messages/{service}", headers, MESSAGE)
    assert code == 201, created
    body = {"sending": {"schedule": {"type": "immediate"}, "audience": {"type": "inline", "conditions": IN_OSLO}}}

    code, answer = await api.call("POST", f"/v1/messages/{service}/{created['message']['id']}/sendings/preview",
                                  headers, body)  # fmt: skip

    assert code == 200, answer
    preview = answer["preview"]
    assert preview["recipients"] == 10
    assert preview["channels"]["sms"]["dispatches"] > 0
    assert preview["channels"]["email"]["dispatches"] > 0
    if marketing:
        assert 0 < preview["suppressed"] < preview["recipients"], "some have the consent, some not"
    else:
        assert (preview["suppressed"], preview["dispatches"]) == (0, 10)
