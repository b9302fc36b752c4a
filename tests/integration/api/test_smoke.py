"""The in-process api server answers like the deployed one."""

from __future__ import annotations

from tests.integration.api.conftest import Api


async def test_a_message_is_created_and_shown_back(api: Api) -> None:
    headers = await api.tenant()
    body = {
        "message": {
            "name": "Hi",
            "channels": [
                {
                    "type": "sms",
                    "template": {
                        "type": "inline",
                        "data": {"type": "plain", "content": {"body": "Hi {{first_name}}!"}},
                    },
                }
            ],
        }
    }
    status, created = await api.call("POST", "/v1/messages/generic", headers, body)
    assert status == 201, created
    status, shown = await api.call("GET", f"/v1/messages/generic/{created['message']['id']}", headers)
    assert status == 200
    assert shown == created
    assert shown["message"]["sendings_status"] == "draft"
    assert shown["message"]["channels"][0]["template"]["content"] == {"body": "Hi {{first_name}}!"}
