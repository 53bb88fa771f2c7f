"""The web page for people: one static page at ``/`` that talks to the same JSON API as every other client.

Plain HTML, CSS and JavaScript in ``api/static``, with no build step and nothing fetched from a CDN, so the page
works offline exactly like the service does.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    # no-cache: the browser revalidates (ETag), so an upgraded service never runs a stale page against its API.
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


class _RevalidatedStaticFiles(StaticFiles):
    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def static_files() -> StaticFiles:
    """The page's scripts and styles, mounted at ``/static``."""
    return _RevalidatedStaticFiles(directory=STATIC_DIR)
