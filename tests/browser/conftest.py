"""Fixtures of the browser tests: the built site served over http://127.0.0.1 in a thread, and one
Chromium page driven by Playwright, shared by every test."""

import threading
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.browser.sitebrowser import (CHROMIUM, CHROMIUM_FLAGS, DESKTOP, Problems, QuietHandler, SiteBrowser, Traffic,
                         base_path, check_every_page)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def site_root(built_site) -> Path:
    return built_site[0]


@pytest.fixture(scope="session")
def site_url(site_root):
    """http://127.0.0.1:<free port>/<base path>/, served by a thread for the whole session."""
    handler = type("Handler", (QuietHandler,), {"base": base_path(site_root)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(site_root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{handler.base}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def site_pages(site_root) -> list[str]:
    """Every built HTML page, as a URL path relative to the site's root (`activations/`, `404.html`)."""
    pages = []
    for path in sorted(site_root.rglob("*.html")):
        relative = path.relative_to(site_root).as_posix()
        pages.append(relative[:-len("index.html")] if relative.endswith("index.html") else relative)
    return pages


@pytest.fixture(scope="session")
def site_browser(browser, site_url):
    """One light-scheme desktop page with its traffic recorded, shared by all browser tests."""
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(site_url))
    traffic = Traffic(origin)
    context = browser.new_context(viewport=DESKTOP, color_scheme="light", reduced_motion="reduce")
    context.route("**/*", traffic.route)
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and traffic.errors.append(
        f"{page.url}: console error: {message.text}"))
    page.on("pageerror", lambda error: traffic.errors.append(f"{page.url}: uncaught: {error}"))
    yield SiteBrowser(page, site_url, traffic)
    context.close()


@pytest.fixture(scope="session")
def page_problems(site_browser, site_pages) -> Problems:
    return check_every_page(site_browser, site_pages)
