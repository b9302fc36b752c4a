"""The API's /docs in a real browser without internet: Swagger UI renders from the package's own assets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright
from tests.e2e.browser import chromium_executable
from tests.e2e.conftest import Stack


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_executable()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def offline_page(browser: Browser, outside: list[str]) -> Page:
    """A page that can reach 127.0.0.1 only, as on a machine without internet; what it tried beyond is kept."""
    page = await browser.new_page()

    async def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_local)
    return page


async def test_docs_render_offline_from_the_packages_own_assets(stack: Stack, browser: Browser) -> None:
    outside: list[str] = []
    page = await offline_page(browser, outside)
    await page.goto(f"{stack.api_url}/docs")
    title = page.locator(".swagger-ui .info .title")
    await title.wait_for(timeout=30_000)
    assert "Messaging API" in await title.inner_text()
    await page.locator(".opblock").first.wait_for(timeout=30_000)
    assert await page.locator(".opblock").count() > 10, "the operations are listed"
    assert outside == [], f"the page asked for assets beyond this machine: {outside}"


WALK_THROUGH_MESSAGE = """{"message": {
  "name": "Greeting",
  "channels": [{"type": "sms", "template": {"type": "inline",
                "definition": {"type": "plain", "content": {"body": "Hei {{ name }}"}}}}],
  "sending": {"schedule": {"type": "immediate"}, "recipients": [
    {"msisdn": "4740769126", "properties": {"name": "Piotr"}},
    {"msisdn": "4790000001", "properties": {"name": "Kari"}}]}}}"""


async def test_try_it_out_sends_the_walk_through_message_with_201(stack: Stack, browser: Browser) -> None:
    """A newcomer with the README: Authorize with the token, fill the tenant headers, paste the walk-through's
    message, Execute: the message is created."""
    headers = stack.new_tenant("docs-try")
    outside: list[str] = []
    page = await offline_page(browser, outside)
    await page.goto(f"{stack.api_url}/docs")
    await page.locator(".opblock").first.wait_for(timeout=30_000)

    await page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    await dialog.locator("input").first.fill(headers["X-Client-Authorization"])
    await dialog.locator("button.modal-btn.authorize").first.click()
    await dialog.locator("button.modal-btn.btn-done").first.click()

    operation = page.locator("#operations-messages-create_message_v1_messages__service_name__post")
    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    await operation.locator('tr[data-param-name="service_name"] select').select_option("generic")
    for name in ("X-User-Agent", "X-Product-Name", "X-Loyalty-Club-Slug"):
        await operation.locator(f'tr[data-param-name="{name}"] input').fill(headers[name])
    await operation.locator("textarea.body-param__text").fill(WALK_THROUGH_MESSAGE)
    await operation.get_by_role("button", name="Execute").click()

    status = operation.locator(".live-responses-table .response .response-col_status")
    await status.first.wait_for(timeout=30_000)
    assert (await status.first.inner_text()).strip() == "201", await operation.locator(
        ".live-responses-table"
    ).inner_text()
    body = await operation.locator(".live-responses-table .response-col_description pre").first.inner_text()
    assert '"latest_sending"' in body
    assert outside == []
    count = await stack.pool.fetchval(
        "SELECT count(*) FROM messages m JOIN loyalty_clubs l ON l.id = m.loyalty_club_id WHERE l.slug = 'docs-try'"
    )
    assert count == 1, "the message exists"
