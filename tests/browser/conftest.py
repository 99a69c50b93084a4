"""Browser tests: Debian's Chromium driven through Playwright against pytest-django's live server.

Playwright's own browser download is not used: we launch the system Chromium
(``/usr/bin/chromium``, or ``CHROMIUM_PATH``). Without it the tests are skipped with the
reason printed; under ``REQUIRE_SERVICES=1`` (CI) a missing browser fails instead
(``tests.conftest.require_or_skip``).

Screenshots go to ``test-artifacts/screenshots/`` (git-ignored; ``SCREENSHOT_DIR`` overrides).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from tests.service_gate import require_or_skip
from zopi.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls
# from a thread with a running loop unless told this is a synchronous caller on purpose.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 800}
# Each assertion waits at most this long for the page (htmx swaps are a few milliseconds).
EXPECT_TIMEOUT_MS = 5_000


def browser_available() -> tuple[bool, str]:
    if not Path(CHROMIUM_PATH).exists():
        return False, f"no Chromium at {CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False, "the playwright package is not installed (pip install -e '.[dev]')"
    return True, ""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture (no database set up, no demo data seeded) when there is no browser."""
    if item.get_closest_marker("browser"):
        require_or_skip(*browser_available())


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    directory = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole session; each test gets its own context (cookies, viewport)."""
    require_or_skip(*browser_available())
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def demo_data(transactional_db: None) -> None:
    """The demo account (demo / demo) with orders in every tab and sub-status."""
    call_command("seed_demo", "--with-demo-login", verbosity=0)  # the suite runs with DEBUG off


@pytest.fixture
def new_context(browser: Browser, live_server: Any) -> Iterator[Callable[..., BrowserContext]]:
    """A factory of fresh browser contexts on the live server, closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(base_url=live_server.url, locale="en-US", **options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def log_in(page: Page, username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD) -> None:
    """Through the login form, as a merchant would; lands on the order center."""
    page.goto("/orders/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/orders/")


@pytest.fixture
def page(demo_data: None, new_context: Callable[..., BrowserContext]) -> Page:
    """A desktop page, logged in as demo, with JavaScript; hx-confirm dialogs are accepted."""
    context = new_context()
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page)
    return page


def expect_no_sideways_scroll(page: Page, width: int) -> None:
    """The page itself never scrolls sideways (wide content scrolls in its own box). Waits for the
    layout to settle after an htmx swap; fails with the width found if it never does."""
    script = f"document.documentElement.scrollWidth <= {int(width)}"
    with contextlib.suppress(Exception):  # a timeout: the assertion below says what was found
        page.wait_for_function(script, timeout=EXPECT_TIMEOUT_MS)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.fixture
def shoot(screenshot_dir: Path) -> Callable[[Page, str], Path]:
    """``shoot(page, "name")`` saves a full-page screenshot as test-artifacts/screenshots/name.png."""

    def save(page: Page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
