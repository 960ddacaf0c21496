"""End-to-end fixtures: the real app on 127.0.0.1 (both backends) and headless Chromium.

Browser tests are skipped when /usr/bin/chromium is missing, and fail instead under CI=true.
Never `playwright install`: the system Chromium is used.
"""

import os
import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
PAGE_WAIT_MS = 15_000  # what a page answer may take on a loaded 2-core CI machine
# Assertions wait as long as actions do (Playwright's own default is 5 s: too short under load).
expect.set_options(timeout=PAGE_WAIT_MS)


@pytest.fixture(scope="session")
def chromium():
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests cannot run")
        pytest.skip(f"browser tests skipped: no {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app):
    """The app served by a threaded werkzeug server on a free port of 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 412, "height": 860})
    context.set_default_timeout(PAGE_WAIT_MS)
    page = context.new_page()
    yield page
    context.close()
