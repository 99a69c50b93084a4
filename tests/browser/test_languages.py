"""Every screen in every language: a merchant switches the language in the top bar, then every tab
of the order center, an order's drawer, and the stores, suppliers, product links, auto-order,
carriers, tracking and members pages are read for English left on them; a screenshot of each
language is saved. Arabic is right to left, and at phone width no page scrolls sideways.

"English left" is a word of the English source strings (the catalog's msgids) that the language's
translations never use, seen in the page's text, a placeholder, a title or an accessible name. The
merchant's own data (names, products, addresses: shown in ``<bdi>`` or ``dir="auto"``), code
samples and the allowed words below (brands, currency codes) are not read."""

from __future__ import annotations

import contextlib
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils.translation import to_locale

from zopi.catalogs import catalogs_compile

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

from .conftest import PHONE, expect_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser

LANGUAGES = [code for code, _name in settings.LANGUAGES if code != "en"]
PAGES = [
    ("new", "/orders/?status=new"),
    ("payment", "/orders/?status=payment"),
    ("shipment", "/orders/?status=shipment"),
    ("canceled", "/orders/?status=canceled"),
    ("refund", "/orders/?status=refund"),
    ("archive", "/orders/?status=archive"),
    ("stores", "/stores/"),
    ("suppliers", "/suppliers/"),
    ("links", "/links/"),
    ("rules", "/rules/"),
    ("carriers", "/carriers/"),
    ("tracking", "/tracking/settings/"),
    ("members", "/members/"),
]
# Names that are the same in every language: brands, the product, units and codes.
ALLOWED = {
    "zopi", "shopify", "woocommerce", "tiktok", "aliexpress", "cjdropshipping", "temu", "track", "paypal",
    "sku", "api", "url", "csv", "json", "http", "https", "usd", "eur", "gbp", "cny", "brl", "iana", "utc",
    "cpf", "cnpj", "rut", "oauth", "webhook", "webhooks", "sandbox", "simulated", "demo", "myshopify",
}  # fmt: skip
WORD = re.compile(r"[A-Za-z][a-z]{2,}")
# The text a merchant reads, without their own data (bdi, dir=auto), code and hidden nodes.
READ_PAGE = """() => {
  const skip = (el) => el.closest(
    'script, style, template, noscript, bdi, [dir=auto], [translate=no], [lang]:not(html), code, pre, kbd, [hidden]');
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (el && !skip(el) && node.textContent.trim()) out.push(node.textContent.trim());
  }
  for (const el of document.body.querySelectorAll('[placeholder], [title], [aria-label]')) {
    if (skip(el)) continue;
    for (const name of ['placeholder', 'title', 'aria-label']) {
      const value = el.getAttribute(name);
      if (value && value.trim()) out.push(value.trim());
    }
  }
  return out;
}"""


@cache
def english_only(language: str) -> frozenset[str]:
    """Words of the English strings that no translation of ``language`` uses (lower case)."""
    path = Path(settings.BASE_DIR) / "locale" / to_locale(language) / "LC_MESSAGES" / "django.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=to_locale(language))
    english: set[str] = set()
    translated: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        english.update(word.lower() for text in ids for word in WORD.findall(re.sub(r"%\(\w+\)\w|<[^>]+>", " ", text)))
        translated.update(word.lower() for text in strings if text for word in WORD.findall(text))
    return frozenset(english - translated - ALLOWED)


def english_left(page: Page, language: str) -> list[str]:
    words = english_only(language)
    return [text for text in page.evaluate(READ_PAGE) if any(w.lower() in words for w in WORD.findall(text))]


@pytest.fixture(scope="module", autouse=True)
def _compiled_catalogs() -> None:
    catalogs_compile()  # make test does it too; a direct pytest run gets the same catalogs


def choose(page: Page, language: str) -> None:
    page.locator("#language-switcher").select_option(language)
    expect(page.locator("html")).to_have_attribute("lang", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_is_in_the_language_chosen(page: Page, shoot: Any, language: str) -> None:
    choose(page, language)
    found: dict[str, list[str]] = {}
    for name, path in PAGES:
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", language)
        left = english_left(page, language)
        if left:
            found[name] = left
        if name == "new":
            shoot(page, f"lang-{language}-orders")
        if name == "shipment":
            page.locator("#order-rows tr[data-order-number] th a").first.click()
            expect(page.locator("#drawer [data-order-detail]")).to_be_visible()
            left = english_left(page, language)
            if left:
                found["drawer"] = left
            shoot(page, f"lang-{language}-drawer")
    assert found == {}, f"English left on the {language} pages: {found}"
    if language == "ar":
        expect(page.locator("html")).to_have_attribute("dir", "rtl")


def test_arabic_pages_fit_a_phone(demo_data: None, new_context: Any, shoot: Any) -> None:
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    log_in(page)
    choose(page, "ar")
    for name, path in PAGES:
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect_no_sideways_scroll(page, PHONE["width"])
        if name in ("new", "stores", "members"):
            shoot(page, f"lang-ar-phone-{name}")
    page.goto("/orders/?status=shipment")
    page.locator("#order-rows tr[data-order-number] th a").first.click()
    expect(page.locator("#drawer [data-order-detail]")).to_be_visible()
    expect_no_sideways_scroll(page, PHONE["width"])
    shoot(page, "lang-ar-phone-drawer")
