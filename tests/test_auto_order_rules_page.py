"""The auto-order rules page: owners save a store's rule; staff are refused and nothing changes;
another tenant's store is 404; bad values say what is wrong (422) and save nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from suppliers.models import AutoOrderRule

pytestmark = pytest.mark.django_db


def form(store: Any, **fields: str) -> dict[str, str]:
    values = {
        "enabled": "on",
        "place": "on",
        "pay": "on",
        "hold_minutes": "90",
        "max_order_total": "80.00",
        "min_margin": "3.50",
        "countries_text": "us, br ,US",
    }
    values.update(fields)
    return {f"store-{store.pk}-{name}": value for name, value in values.items() if value != ""}


def test_an_owner_saves_a_rule_for_a_store(owner_client: Client, store: Any) -> None:
    page = owner_client.get(reverse("rules:list"))
    assert page.status_code == 200
    assert store.name in page.content.decode()

    response = owner_client.post(reverse("rules:save", args=[store.pk]), form(store))

    assert response.status_code == 302
    rule = AutoOrderRule.objects.get(store=store)
    assert (rule.enabled, rule.place, rule.pay, rule.hold_minutes) == (True, True, True, 90)
    assert (rule.max_order_total, rule.min_margin, rule.countries) == (Decimal("80.00"), Decimal("3.50"), ["BR", "US"])
    assert "Rule saved." in owner_client.get(response["Location"]).content.decode()


def test_staff_cannot_change_rules_and_nothing_changes(member_client: Client, store: Any) -> None:
    AutoOrderRule.objects.create(account=store.account, store=store, enabled=False)

    response = member_client.post(reverse("rules:save", args=[store.pk]), form(store))

    assert response.status_code == 403
    assert AutoOrderRule.objects.get(store=store).enabled is False
    assert member_client.get(reverse("rules:list")).status_code == 403


def test_another_tenants_store_is_not_found(owner_client: Client, other_store: Any) -> None:
    response = owner_client.post(reverse("rules:save", args=[other_store.pk]), form(other_store))

    assert response.status_code == 404
    assert not AutoOrderRule.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"hold_minutes": "-5"}, "greater than or equal to 0"),
        ({"hold_minutes": "999999"}, "between 0 minutes and 7 days"),
        ({"countries_text": "USA, 12"}, "not two-letter country codes"),
        ({"max_order_total": "-1"}, "greater than or equal to 0"),
        ({"place": "", "pay": ""}, "must place, pay, or both"),
        ({"min_margin": "lots"}, "Enter a number"),
    ],
)
def test_bad_values_say_what_is_wrong_and_save_nothing(
    owner_client: Client, store: Any, fields: dict[str, str], error: str
) -> None:
    response = owner_client.post(reverse("rules:save", args=[store.pk]), form(store, **fields))

    assert response.status_code == 422
    assert error in response.content.decode()
    assert not AutoOrderRule.objects.exists()
