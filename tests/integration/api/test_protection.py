"""What protects the API and its data: Idempotency-Key, body limits, rate limits, hostile input."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from tests.integration.api.conftest import Api, serve_api

SMS = {"type": "sms", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": "Hi"}}}}


# 9 000 iterations (under the loop limit) of 120 characters: past the output limit of 1 000 000.
EXPLODING_LIQUID = '{% assign s = "xxxxxxxxxx" %}{% for i in (1..9000) %}' + "{{ s }}" * 12 + "{% endfor %}"


def message(name: str) -> dict[str, Any]:
    return {"message": {"name": name, "channels": [SMS]}}


async def count_messages(api: Api, headers: dict[str, str]) -> int:
    code, page = await api.call("GET", "/v1/messages/generic", headers)
    assert code == 200
    total: int = page["pagination_info"]["total_count"]
    return total


async def test_a_repeated_post_with_the_same_idempotency_key_creates_one_message(api: Api) -> None:
    headers = await api.tenant()
    key = {"Idempotency-Key": "create-once"}
    first = await api.call("POST", "/v1/messages/generic", headers, message("Once"), key)
    second = await api.call("POST", "/v1/messages/generic", headers, message("Once"), key)
    assert first[0] == 201
    assert second == first
    assert await count_messages(api, headers) == 1
    different = await api.call("POST", "/v1/messages/generic", headers, message("Other"), key)
    assert different == (422, {"error": "Idempotency-Key was already used with a different request"})
    assert await count_messages(api, headers) == 1


async def test_concurrent_posts_with_one_key_run_once_and_all_get_its_answer(api: Api) -> None:
    headers = await api.tenant()
    key = {"Idempotency-Key": "race"}
    answers = await asyncio.gather(
        *(api.call("POST", "/v1/messages/generic", headers, message("Race"), key) for _ in range(8))
    )
    assert {code for code, _ in answers} == {201}, "each waited for the first and got its answer"
    created = {body["message"]["id"] for _, body in answers}
    assert len(created) == 1
    assert await count_messages(api, headers) == 1


async def test_idempotency_keys_are_scoped_per_lc(api: Api) -> None:
    first, second = await api.tenant(), await api.tenant()
    key = {"Idempotency-Key": "shared-key"}
    assert (await api.call("POST", "/v1/messages/generic", first, message("A"), key))[0] == 201
    assert (await api.call("POST", "/v1/messages/generic", second, message("A"), key))[0] == 201
    assert await count_messages(api, first) == 1
    assert await count_messages(api, second) == 1


async def test_a_failed_request_is_replayed_as_the_same_failure(api: Api) -> None:
    headers = await api.tenant()
    key = {"Idempotency-Key": "bad"}
    bad = {"message": {"name": "", "channels": [SMS]}}
    first = await api.call("POST", "/v1/messages/generic", headers, bad, key)
    assert first[0] == 422
    assert await api.call("POST", "/v1/messages/generic", headers, bad, key) == first


async def test_a_body_over_the_limit_is_refused_before_parsing(api: Api) -> None:
    headers = await api.tenant()
    huge = b'{"message": {"name": "' + b"x" * (10 * 1024 * 1024) + b'"}}'
    code, body = await api.call("POST", "/v1/messages/generic", headers, huge)
    assert (code, body) == (413, {"error": "Request body larger than 5242880 bytes"})
    code, body = await api.call("POST", "/v1/messages/generic", headers, huge, {"Idempotency-Key": "huge"})
    assert code == 413
    assert await count_messages(api, headers) == 0


async def test_hostile_bodies_get_a_4xx_and_the_service_stays_healthy(api: Api) -> None:
    headers = await api.tenant()
    nested = b'{"message": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    cases: list[tuple[bytes | dict[str, Any], int]] = [
        (nested, 400),
        (b'{"message": {"name": "\xff\xfe"}}', 400),
        (b"", 400),
        (b"[]", 422),
        ({"message": {"name": "x", "channels": [SMS], "status": "transmitted", "id": 1}}, 422),
        ({"message": {"name": "x", "channels": [{**SMS, "template": {"type": "inline", "definition": {
            "type": "plain", "content": {"body": "{% for i in (1..100000000) %}{{ i }}{% endfor %}"}}}}]}}, 422),
        ({"message": {"name": "x", "channels": [{**SMS, "template": {"type": "inline", "definition": {
            "type": "plain", "content": {"body": EXPLODING_LIQUID}}}}]}}, 422),
    ]  # fmt: skip
    for body, expected in cases:
        code, _ = await api.call("POST", "/v1/messages/generic", headers, body)
        assert code == expected, str(body)[:80]
    code, _ = await api.call("GET", "/healthz", {})
    assert code == 200


async def test_an_lc_over_its_rate_gets_429_with_retry_after_and_others_do_not(
    api_database: str, kafka_bootstrap: str
) -> None:
    # A bucket this small is exceeded whatever the speed of the machine.
    async with serve_api(api_database, kafka_bootstrap, rate_limit_per_second=0.5, rate_limit_burst=3) as limited:
        noisy, quiet = await limited.tenant(), await limited.tenant()

        async def get() -> tuple[int, str | None, Any]:
            async with limited.http.get(limited.url + "/v1/messages/generic", headers=noisy) as response:
                return response.status, response.headers.get("Retry-After"), await response.json()

        answers = [await get() for _ in range(6)]
        assert [code for code, _, _ in answers] == [200, 200, 200, 429, 429, 429]
        assert all(body == {"error": "Rate limit exceeded for this loyalty club"} for _, _, body in answers[3:])
        assert all(retry_after is not None and int(retry_after) >= 1 for _, retry_after, _ in answers[3:])
        assert (await limited.call("GET", "/v1/messages/generic", quiet))[0] == 200


async def test_more_than_ten_thousand_inline_recipients_are_refused(api: Api) -> None:
    headers = await api.tenant()
    recipients = [{"msisdn": "4740769126"}] * 100_000
    body = {"message": {"name": "Many", "channels": [SMS], "sending": {"recipients": recipients}}}
    code, answer = await api.call("POST", "/v1/messages/generic", headers, body)
    assert code == 422
    assert answer["details"]["message"]["sending"]["recipients"][0]["error"] == "size_too_large"
    assert answer["details"]["message"]["sending"]["recipients"][0]["options"] == {"number": 10_000}
    assert await count_messages(api, headers) == 0


async def test_a_json_body_without_a_content_type_gets_415_like_any_other_media_type(api: Api) -> None:
    headers = await api.tenant()
    code, created = await api.call("POST", "/v1/messages/generic", headers, message("Typed"))
    assert code == 201, created
    template = {"template": {"name": "T", "type": "plain", "content": {"body": "Hi"}}}
    code, stored = await api.call("POST", "/v1/messages/templates", headers, template)
    assert code == 201, stored
    cases = [
        ("POST", "/v1/messages/generic", message("Untyped")),
        ("PUT", f"/v1/messages/generic/{created['message']['id']}", {"message": {"name": "Renamed"}}),
        ("POST", "/v1/messages/templates", template),
        ("PUT", f"/v1/messages/templates/{stored['template']['id']}", {"template": {"name": "Renamed"}}),
    ]
    for method, path, body in cases:
        # aiohttp would otherwise add `application/octet-stream` for a bytes body.
        async with api.http.request(
            method, api.url + path, headers=headers, data=orjson.dumps(body), skip_auto_headers=["Content-Type"]
        ) as response:
            assert "Content-Type" not in response.request_info.headers
            answer = (response.status, await response.json())
        assert answer == (415, {"error": "Content-Type must be application/json"}), f"{method} {path}"
    assert await count_messages(api, headers) == 1


async def test_a_repeated_key_without_a_tenant_header_gets_470_not_the_stored_answer(api: Api) -> None:
    headers = await api.tenant()
    key = {"Idempotency-Key": "headers-first"}
    code, _ = await api.call("POST", "/v1/messages/generic", headers, message("Once"), key)
    assert code == 201
    without = {name: value for name, value in headers.items() if name != "X-Product-Name"}
    answer = await api.call("POST", "/v1/messages/generic", without, message("Once"), key)
    assert answer == (470, {"error": "Missing required header X-Product-Name"})
