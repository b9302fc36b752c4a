"""`make demo` on a running `make up`: found through the state file, it sends to the sample members through the
API, the sending is transmitted, and it runs twice; the state file goes when the stack stops."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiohttp
from tests.e2e.make_up import make_up, stack_env, wait_ready
from tests.infra import eventually
from tests.paths import ROOT

DEMO_TIMEOUT_SECONDS = 180


async def make_demo(env: dict[str, str]) -> tuple[int, str, str]:
    """`make demo` from the checkout's root: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        "make", "demo", cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), DEMO_TIMEOUT_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def sending_of(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> dict[str, object]:
    async with http.get(url, headers=headers) as answer:
        assert answer.status == 200, await answer.text()
        sending: dict[str, object] = (await answer.json())["sending"]
        return sending


async def test_make_demo_sends_to_the_sample_members_through_the_api_of_make_up_and_runs_twice(tmp_path: Path) -> None:
    env, ports = stack_env(tmp_path)  # no DATABASE_URL: the demo finds the stack by its state file
    state_file = tmp_path / "local" / "stack.json"
    api_url = f"http://127.0.0.1:{ports['API_PORT']}"
    with make_up(env, tmp_path / "make-up.log") as make:
        wait_ready(make, tmp_path / "make-up.log")
        assert json.loads(state_file.read_text())["api_url"] == api_url

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            sendings = set()
            for run in (1, 2):
                code, out, err = await make_demo(env)
                assert code == 0, f"run {run}:\n{out}\n{err}"
                assert ("created" if run == 1 else "exists already") in out
                assert "imported 30 members" in out
                sending_id = int(re.findall(r"sending (\d+) to it", out)[0])
                token = re.findall(r"token of the demo's API client: (\S+)", out)[0]
                curl = re.findall(r'curl -s "\$\{H\[@\]\}" (\S+)', out)[0]
                assert curl == f"{api_url}/v1/messages/campaigns/sendings/{sending_id}"
                headers = {"X-User-Agent": "e2e-tests", "X-Product-Name": "messaging-tests",
                           "X-Loyalty-Club-Slug": "demo", "X-Client-Authorization": token}  # fmt: skip

                async def transmitted(url: str = curl, h: dict[str, str] = headers) -> dict[str, object] | None:
                    sending = await sending_of(http, url, h)
                    return sending if sending["status"] == "transmitted" else None

                sending = await eventually(transmitted, 60, f"sending {sending_id} of the demo to be transmitted")
                stats = sending["stats"]
                assert isinstance(stats, dict)
                assert stats["planned"] == 10, stats  # the members in Oslo
                assert stats["prepared"] > 0, stats
                assert stats["suppressed"] > 0, stats  # a marketing sending: some lack the consent
                sendings.add(sending_id)
            assert len(sendings) == 2
    assert not state_file.exists(), "the state file outlived the stack"
