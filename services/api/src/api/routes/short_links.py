"""Short links of sms bodies (`shorten_urls`): `GET /s/{code}` redirects, counting the click when tracked."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.http import JsonResponse
from api.repository import short_links
from api.routes.deps import runtime_of

router = APIRouter(tags=["short links"])
MAX_CODE_LENGTH = 32


@router.get("/s/{code}")
async def follow_short_link(request: Request, code: str) -> Response:
    """302 to the link's URL; a link made per recipient (`track_in_shortener`) counts the click. 404 if unknown."""
    if len(code) > MAX_CODE_LENGTH:
        return JsonResponse({"error": "Not Found"}, status_code=404)
    async with runtime_of(request).pool.acquire() as conn:
        url = await short_links.follow(conn, code)
    if url is None:
        return JsonResponse({"error": "Not Found"}, status_code=404)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
