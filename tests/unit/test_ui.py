"""The web page is served by the API itself and needs nothing from outside the service."""

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routers.ui import STATIC_DIR


@pytest.fixture
def client(services):
    with TestClient(create_app(services.settings, services)) as c:
        yield c


def test_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/static/app.js", "/static/style.css"]
    for path, kind in zip(sorted(assets), ["javascript", "text/css"], strict=True):
        r = client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
        assert r.headers["cache-control"] == "no-cache"  # an upgraded service never runs a stale script


def test_page_is_not_part_of_the_api_schema(client):
    assert "/" not in client.get("/openapi.json").json()["paths"]


def test_no_external_resources():
    """Works offline: no CDN, no web fonts, no absolute URLs to other hosts."""
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"https?://", text), path
        assert "@import" not in text and "url(" not in text, path
