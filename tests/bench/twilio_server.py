"""A Twilio-compatible Messages API for the benchmarks: answers every message 1 ms later with a new `sid`.

Run as its own process (`python -m tests.bench.twilio_server PORT`) so it never shares a core's event loop
with what it measures.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

from aiohttp import web

ANSWER_DELAY_SECONDS = 0.001


async def create_message(request: web.Request) -> web.Response:
    form = await request.post()
    await asyncio.sleep(ANSWER_DELAY_SECONDS)
    return web.json_response({"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": form.get("To")}, status=201)


def main() -> None:
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", create_message)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
