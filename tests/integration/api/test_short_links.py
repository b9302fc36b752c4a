"""`GET /s/{code}`: short links of sms bodies redirect, and count clicks when tracked per recipient."""

from __future__ import annotations

from tests.integration.api.conftest import Api


async def test_a_short_link_redirects_and_counts_clicks_only_when_tracked(api: Api) -> None:
    headers = await api.tenant()
    lc_id = await api.pool.fetchval("SELECT id FROM loyalty_clubs WHERE slug = $1", headers["X-Loyalty-Club-Slug"])
    assert lc_id is not None
    await api.pool.executemany(
        "INSERT INTO short_links (code, url, sending_id, dispatch_key) VALUES ($1, $2, 1, $3)",
        [("tracked1", "https://shop.example/a?x=1", "member:5"), ("shared1", "https://shop.example/b", None)],
    )
    for code, url in [("tracked1", "https://shop.example/a?x=1"), ("shared1", "https://shop.example/b")]:
        for _ in range(2):
            async with api.http.get(f"{api.url}/s/{code}", allow_redirects=False) as response:
                assert response.status == 302
                assert response.headers["Location"] == url
    rows = await api.pool.fetch("SELECT code, clicks FROM short_links WHERE code IN ('tracked1', 'shared1')")
    clicks = {r["code"]: r["clicks"] for r in rows}
    assert clicks == {"tracked1": 2, "shared1": 0}
    async with api.http.get(f"{api.url}/s/unknown", allow_redirects=False) as response:
        assert response.status == 404
        assert await response.json() == {"error": "Not Found"}
