"""Console pages for what went wrong: an API refusal in words, a missing object, a service not answering."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from libs.errors import ApiError
from services.console.api.context import page
from services.console.domain.words import in_words
from services.console.upstream import Answer

log = structlog.get_logger()


def refusal(answer: Answer) -> dict[str, object]:
    """Template context for an API's refusal: title, sentence, detail lines, status."""
    title, sentence, lines = in_words(answer.status, answer.error)
    return {"title": title, "sentence": sentence, "lines": lines, "status": answer.status}


def error_page(request: web.Request, answer: Answer) -> web.Response:
    """A whole page for a failed read. An API's 404 stays a 404 ("not found", whether it exists or not)."""
    ctx = refusal(answer)
    ctx.pop("status")
    status = answer.status if answer.status in (400, 401, 403, 404, 409, 422, 429, 503) else 502
    return page(request, "error.html", status=status, **ctx)


@web.middleware
async def html_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """Errors inside the console answer as pages, not JSON (the API's error shape is for the APIs)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        title = {404: "Not found", 405: "Not allowed here"}.get(exc.status, "The request failed")
        return page(request, "error.html", status=exc.status, title=title, sentence=f"{exc.reason}.", lines=[])
    except ApiError as err:
        return page(request, "error.html", status=err.status, title="The request failed", sentence=err.message,
                    lines=[str(d) for d in err.details])  # fmt: skip
