"""The order center's language is the user's (chosen in the top bar, remembered for every device and
account; the cookie for a visitor), and its dates are in the account's time zone (the owner sets
it on the Members page). Hostile choices are refused; the public tracking page keeps the
browser's language."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Account, UserPreference
from tests.factories import OrderFactory
from tests.pages import text

pytestmark = pytest.mark.django_db


def html_lang(response: Any) -> tuple[str, str]:
    page = response.content.decode()
    start = page.index("<html")
    tag = page[start : page.index(">", start)]
    lang = tag.split('lang="', 1)[1].split('"', 1)[0]
    direction = tag.split('dir="', 1)[1].split('"', 1)[0]
    return lang, direction


def test_a_users_language_is_remembered_for_every_session(member_client: Client, user: Any) -> None:
    assert html_lang(member_client.get("/orders/")) == ("en", "ltr")

    response = member_client.post("/accounts/language/", {"language": "ar", "next": "/orders/?status=new"})

    assert response.status_code == 302
    assert response["Location"] == "/orders/?status=new"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ar"
    assert UserPreference.objects.get(user=user).language == "ar"
    assert html_lang(member_client.get("/orders/")) == ("ar", "rtl")
    # another device: no cookie, a browser asking for German; the user's choice wins
    elsewhere = Client(HTTP_ACCEPT_LANGUAGE="de")
    elsewhere.force_login(user)
    assert html_lang(elsewhere.get("/orders/")) == ("ar", "rtl")


def test_a_user_who_never_chose_gets_the_browsers_language(user: Any) -> None:
    browser = Client(HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    browser.force_login(user)
    assert html_lang(browser.get("/orders/")) == ("fr", "ltr")


def test_a_visitor_chooses_with_the_cookie_only(client: Client) -> None:
    response = client.post("/accounts/language/", {"language": "zh-hans", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert html_lang(client.get("/accounts/login/")) == ("zh-hans", "ltr")
    assert not UserPreference.objects.exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [({"language": "xx"}, 400), ({"language": ""}, 400), ({}, 400), ({"language": "fr" * 2000}, 400)],
)
def test_a_language_not_offered_is_refused(member_client: Client, body: dict[str, str], status: int) -> None:
    assert member_client.post("/accounts/language/", body).status_code == status
    assert not UserPreference.objects.exists()


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "orders:center", "/\\evil"])
def test_the_next_page_is_followed_only_on_this_site(member_client: Client, target: str) -> None:
    response = member_client.post("/accounts/language/", {"language": "fr", "next": target})
    assert response["Location"] == "/orders/"


def test_the_language_form_needs_the_csrf_token(user: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/accounts/language/", {"language": "fr"}).status_code == 403


def test_dates_are_shown_in_the_accounts_time_zone(owner_client: Client, account: Account, store: Any) -> None:
    OrderFactory(store=store, number="#TZ-1", placed_at=datetime(2026, 11, 3, 23, 30, tzinfo=UTC))
    assert "11/03/2026" in text(owner_client.get("/orders/"))

    response = owner_client.post("/members/time-zone/", {"time_zone": "Asia/Tokyo"}, follow=True)

    assert "now shown in Asia/Tokyo" in text(response)
    account.refresh_from_db()
    assert account.time_zone == "Asia/Tokyo"
    page = text(owner_client.get("/orders/"))
    assert "11/04/2026" in page  # 08:30 the next morning in Tokyo
    assert "11/03/2026" not in page


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "UTC" * 30])
def test_a_zone_not_in_the_list_is_refused(owner_client: Client, account: Account, zone: str) -> None:
    response = owner_client.post("/members/time-zone/", {"time_zone": zone})
    assert response.status_code == 422
    assert "Choose a time zone from the list." in text(response)
    account.refresh_from_db()
    assert account.time_zone == "UTC"


def test_staff_cannot_change_the_time_zone(member_client: Client, account: Account) -> None:
    assert member_client.post("/members/time-zone/", {"time_zone": "Asia/Tokyo"}).status_code == 403
    account.refresh_from_db()
    assert account.time_zone == "UTC"


def test_the_zones_are_named_in_the_readers_language(owner_client: Client) -> None:
    assert owner_client.post("/accounts/language/", {"language": "fr", "next": "/members/"}).status_code == 302
    page = owner_client.get("/members/").content.decode()
    assert '<option value="Europe/Berlin">Europe/Berlin · heure : Allemagne (Berlin)</option>' in page
    assert owner_client.post("/accounts/language/", {"language": "de", "next": "/members/"}).status_code == 302
    assert "Europe/Berlin · Deutschland (Berlin) (Ortszeit)</option>" in owner_client.get("/members/").content.decode()
