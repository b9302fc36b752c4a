"""Short links of sms bodies (`shorten_urls`): `GET /s/{code}` redirects, counting the click when tracked."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.http import JsonResponse

router = APIRouter(tags=["short links"])
MAX_CODE_LENGTH = 32


@router.get("/s/{code}")
async def follow_short_link(request: Request, code: str) -> Response:
    """302 to the link's URL; a link made per recipient (`track_in_shortener`) counts the click. 404 if unknown."""
    if len(code) > MAX_CODE_LENGTH:
        return JsonResponse({"error": "Not Found"}, status_code=404)
    url = await request.app.state.runtime.pool.fetchval(
        "WITH link AS (SELECT url, dispatch_key FROM short_links WHERE code = $1), "
        "counted AS (UPDATE short_links SET clicks = clicks + 1, last_clicked_at = now() "
        "            WHERE code = $1 AND dispatch_key IS NOT NULL) "
        "SELECT url FROM link",
        code,
    )
    if url is None:
        return JsonResponse({"error": "Not Found"}, status_code=404)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
