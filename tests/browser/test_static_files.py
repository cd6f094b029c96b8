"""How the gateway serves the web app: cached assets, a revalidated page, compression, CSP."""

import re

import httpx

from tests.conftest import Stack

IMMUTABLE = "public, max-age=31536000, immutable"
ASSET = re.compile(r"""(?:src|href)="(/assets/[^"]+)\"""")


def test_fingerprinted_assets_are_cached_for_a_year_and_the_page_is_revalidated(
    stack: Stack,
) -> None:
    with httpx.Client(base_url=stack.gateway, headers={"Accept-Encoding": "gzip"}) as client:
        page = client.get("/")
        assets = ASSET.findall(page.text)
        responses = {path: client.get(path) for path in assets}
        missing = client.get("/assets/app.0000000000.js")
        deep_link = client.get("/some/page")

    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["content-encoding"] == "gzip"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert {path.rsplit("/", 1)[1].split(".")[0] for path in assets} == {
        "favicon",
        "bootstrap",
        "app",
        "jquery",
    }
    for path, response in responses.items():
        assert re.search(r"\.[0-9a-f]{10}\.(js|css|svg)$", path), path
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == IMMUTABLE, path
        assert response.headers["content-encoding"] == "gzip", path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
    assert missing.status_code == 404
    assert "cache-control" not in missing.headers
    assert deep_link.status_code == 200
    assert deep_link.headers["cache-control"] == "no-cache"
    assert "<title>task-tracker</title>" in deep_link.text


def test_the_page_has_no_inline_script_or_style(stack: Stack) -> None:
    page = httpx.get(f"{stack.gateway}/").text

    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", page), "no event handler attributes"
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts
    assert all('src="/assets/' in tag for tag in scripts)
