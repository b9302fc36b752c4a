"""Preview Sending (endpoint 15): what preparation would give now, per channel, with samples; nothing stored."""

from __future__ import annotations

from tests.integration.api.conftest import Api

P = "/v1/messages"
MESSAGE = {"message": {"name": "Spring", "marketing": True, "shorten_urls": False, "channels": [
    {"type": "sms", "template": {"type": "inline", "definition": {
        "type": "plain", "content": {"body": "Hi {{ first_name }} {{ promo }}"}}}},
    {"type": "email", "template": {"type": "inline", "definition": {
        "type": "email", "content": {"subject": "News for {{ first_name }}", "body": "<p>{{ city }}</p>"}}}},
]}}  # fmt: skip
SMS_CONSENT = {"sms_marketing": {"status": True}}
EMAIL_CONSENT = {"email_marketing": {"status": True}}


# Long: one preview checked whole, channel by channel; split, the same setup would repeat
async def test_a_preview_counts_per_channel_samples_three_and_stores_nothing(api: Api) -> None:
    headers = await api.tenant()
    lc_id = await api.pool.fetchval("SELECT id FROM loyalty_clubs WHERE slug = $1", headers["X-Loyalty-Club-Slug"])
    await api.pool.executemany(
        "INSERT INTO members (loyalty_club_id, id, msisdn, email, properties, consents) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (lc_id, 1, "4790000001", None, {"first_name": "Ola", "city": "Oslo"}, SMS_CONSENT),  # sms
            (lc_id, 2, "4790000002", None, {"first_name": "Kari", "city": "Oslo"}, {}),  # sms, suppressed
            (lc_id, 3, None, "nora@example.com", {"first_name": "Nora", "city": "Oslo"}, EMAIL_CONSENT),  # email
            (lc_id, 4, None, None, {"first_name": "Jan", "city": "Oslo"}, SMS_CONSENT),  # unreachable
            (lc_id, 5, "4790000005", None, {"first_name": "Lars", "city": "Bergen"}, SMS_CONSENT),  # not in audience
            (lc_id, 6, "4790000006", None, {"first_name": "Emil", "city": "Oslo"}, SMS_CONSENT),  # also inline
        ],
    )
    code, created = await api.call("POST", f"{P}/generic", headers, MESSAGE)
    assert code == 201, created
    message_id = created["message"]["id"]
    in_oslo = [{"condition_group": "member_properties", "field": "city", "operator": "match", "value": "oslo"}]
    body = {"sending": {
        "schedule": {"type": "immediate"}, "properties": {"promo": "-20%"},
        "audience": {"type": "inline", "conditions": in_oslo},
        "recipients": [{"member_id": 6, "properties": {"first_name": "Inline"}}, {"msisdn": "4740769126"}],
    }}  # fmt: skip
    before = await api.pool.fetchrow(
        "SELECT (SELECT count(*) FROM sendings) AS sendings, (SELECT count(*) FROM audiences) AS audiences, "
        "(SELECT count(*) FROM sending_recipients) AS recipients"
    )

    code, answer = await api.call("POST", f"{P}/generic/{message_id}/sendings/preview", headers, body)

    assert code == 200, answer
    preview = answer["preview"]
    assert {k: v for k, v in preview.items() if k != "samples"} == {
        "recipients": 6,  # two inline, and members 1-4 of the audience (6 is inline already)
        "dispatches": 4,
        "suppressed": 1,
        "unreachable": 1,
        "channels": {"sms": {"dispatches": 3, "suppressed": 1}, "email": {"dispatches": 1, "suppressed": 0}},
        "estimated_duration_seconds": 0.03,  # 3 sms at the default 100 sms/s
    }
    assert [(s["type"], s["member_id"], s["msisdn"], s["content"]) for s in preview["samples"]] == [
        ("sms", 6, "4790000006", {"body": "Hi Inline -20%"}),
        ("sms", None, "4740769126", {"body": "Hi  -20%"}),
        ("sms", 1, "4790000001", {"body": "Hi Ola -20%"}),
    ]
    after = await api.pool.fetchrow(
        "SELECT (SELECT count(*) FROM sendings) AS sendings, (SELECT count(*) FROM audiences) AS audiences, "
        "(SELECT count(*) FROM sending_recipients) AS recipients"
    )
    assert after == before


async def test_a_preview_validates_like_create(api: Api) -> None:
    headers = await api.tenant()
    code, created = await api.call("POST", f"{P}/generic", headers, MESSAGE)
    assert code == 201, created
    message_id = created["message"]["id"]
    unknown = {"condition_group": "member_properties", "field": "city", "operator": "sounds_like", "value": "x"}
    bad = {"sending": {"schedule": {"type": "immediate"}, "audience": {"type": "inline", "conditions": [unknown]}}}
    code, answer = await api.call("POST", f"{P}/generic/{message_id}/sendings/preview", headers, bad)
    assert code == 422, answer
    code, answer = await api.call("POST", f"{P}/generic/999999999/sendings/preview", headers, bad)
    assert code == 404, answer
