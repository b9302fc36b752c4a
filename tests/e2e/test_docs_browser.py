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
