"""Tenancy: a user of account A asks every order-center URL for account B's orders and stores.

Every answer is 404, nothing of B shows, and nothing changes in either account. The URL
list comes from the ``orders`` URLconf: a new URL without an isolation case fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from orders import urls as orders_urls
from orders.models import Order, OrderEvent
from orders.services import orders_archive
from orders.services.counts import order_counts_stored
from tests.factories import MembershipFactory, OrderFactory, SupplierOrderFactory, UserFactory
from tests.pages import order_numbers, text

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@dataclass
class World:
    own: Order  # account A, live
    own_archived: Order  # account A, archived
    foreign: Order  # account B, live
    foreign_archived: Order  # account B, archived
    foreign_store_id: int


@dataclass(frozen=True)
class Probe:
    """One request for B's data; ``build`` gets the world and returns (path, data)."""

    method: str
    build: Callable[[World], tuple[str, dict[str, Any]]]
    htmx: bool = False


def _ids(*orders: Order) -> dict[str, Any]:
    return {"ids": [order.pk for order in orders], "next": "/orders/"}


# A complete address: the probe is refused for the order, not for the form.
ADDRESS = {
    "name": "Eve Intruder", "phone": "+1 502 459 2181", "address1": "1 Main St", "city": "Louisville",
    "province": "KY", "zip": "40202", "country_code": "US",
}  # fmt: skip

# Every URL name of the orders app, with the requests that try to reach account B through it.
PROBES: dict[str, list[Probe]] = {
    "center": [
        Probe("get", lambda w: (reverse("orders:center"), {"store": w.foreign_store_id})),
        Probe("get", lambda w: (reverse("orders:center"), {"store": w.foreign_store_id, "status": "archive"})),
        Probe("get", lambda w: (reverse("orders:center"), {"store": w.foreign_store_id}), htmx=True),
        Probe(
            "get", lambda w: (reverse("orders:center"), {"store": w.foreign_store_id, "fragment": "tabs"}), htmx=True
        ),
    ],
    "detail": [
        Probe("get", lambda w: (reverse("orders:detail", args=[w.foreign.pk]), {})),
        Probe("get", lambda w: (reverse("orders:detail", args=[w.foreign_archived.pk]), {})),
        Probe("get", lambda w: (reverse("orders:detail", args=[w.foreign.pk]), {}), htmx=True),
    ],
    "address_edit": [
        Probe("get", lambda w: (reverse("orders:address_edit", args=[w.foreign.pk]), {})),
        Probe("get", lambda w: (reverse("orders:address_edit", args=[w.foreign.pk]), {}), htmx=True),
        Probe("post", lambda w: (reverse("orders:address_edit", args=[w.foreign.pk]), ADDRESS)),
        Probe("post", lambda w: (reverse("orders:address_edit", args=[w.foreign.pk]), ADDRESS), htmx=True),
        Probe("post", lambda w: (reverse("orders:address_edit", args=[w.foreign_archived.pk]), ADDRESS)),
    ],
    "confirm_duplicate": [
        Probe("post", lambda w: (reverse("orders:confirm_duplicate", args=[w.foreign.pk]), {})),
        Probe("post", lambda w: (reverse("orders:confirm_duplicate", args=[w.foreign.pk]), {}), htmx=True),
    ],
    "archive": [
        Probe("get", lambda w: (reverse("orders:archive"), _ids(w.foreign))),
        Probe("post", lambda w: (reverse("orders:archive"), _ids(w.foreign))),
        Probe("post", lambda w: (reverse("orders:archive"), _ids(w.foreign)), htmx=True),
        Probe("get", lambda w: (reverse("orders:archive"), _ids(w.own, w.foreign))),
        Probe("post", lambda w: (reverse("orders:archive"), _ids(w.own, w.foreign))),
        Probe("post", lambda w: (reverse("orders:archive"), _ids(w.own, w.foreign)), htmx=True),
    ],
    "restore": [
        Probe("get", lambda w: (reverse("orders:restore"), _ids(w.foreign_archived))),
        Probe("post", lambda w: (reverse("orders:restore"), _ids(w.foreign_archived))),
        Probe("post", lambda w: (reverse("orders:restore"), _ids(w.foreign_archived)), htmx=True),
        Probe("get", lambda w: (reverse("orders:restore"), _ids(w.own_archived, w.foreign_archived))),
        Probe("post", lambda w: (reverse("orders:restore"), _ids(w.own_archived, w.foreign_archived))),
        Probe("post", lambda w: (reverse("orders:restore"), _ids(w.own_archived, w.foreign_archived)), htmx=True),
    ],
}


def orders_url_names() -> set[str]:
    """Every named URL under the ``orders`` namespace, read from the resolver (nested includes too)."""
    names: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif pattern.name:
                names.add(pattern.name)

    walk(orders_urls.urlpatterns)
    return names


def test_every_orders_url_has_an_isolation_probe() -> None:
    # given the URLs the project serves under the orders namespace
    served = orders_url_names()
    namespaced = {name for name in get_resolver().namespace_dict["orders"][1].reverse_dict if isinstance(name, str)}
    # then each has probes here (add them when adding a URL), and no probe is stale
    assert served == namespaced
    assert served == set(PROBES), f"URLs without an isolation probe: {sorted(served - set(PROBES))}"


@pytest.fixture
def world(store: Any, other_store: Any) -> World:
    own = OrderFactory(store=store, number="#A-1001", customer_name="Alice Buyer")
    own_archived = OrderFactory(store=store, number="#A-1002", customer_name="Alice Buyer")
    foreign = OrderFactory(store=other_store, number="#B-2001", customer_name="Bob Secret")
    foreign_archived = OrderFactory(store=other_store, number="#B-2002", customer_name="Bob Secret")
    SupplierOrderFactory(order=foreign)
    orders_archive(account=store.account, order_ids=[own_archived.pk])
    orders_archive(account=other_store.account, order_ids=[foreign_archived.pk])
    return World(own, own_archived, foreign, foreign_archived, other_store.pk)


def snapshot(world: World) -> tuple[Any, ...]:
    orders = world.own, world.own_archived, world.foreign, world.foreign_archived
    return (
        list(
            Order.objects.filter(pk__in=[o.pk for o in orders]).order_by("pk").values_list("pk", "archived", "status")
        ),
        list(OrderEvent.objects.order_by("pk").values_list("pk", "order_id", "type")),
        order_counts_stored(account=world.own.account),
        order_counts_stored(account=world.foreign.account),
    )


@pytest.mark.parametrize(
    ("name", "index"), [(name, index) for name, probes in PROBES.items() for index in range(len(probes))]
)
def test_another_accounts_ids_are_not_found_and_change_nothing(
    member_client: Client, world: World, name: str, index: int
) -> None:
    # given a user of account A, and B's orders and store
    probe = PROBES[name][index]
    path, data = probe.build(world)
    before = snapshot(world)
    # when A's user asks for them
    extra = HTMX if probe.htmx else {}
    response = getattr(member_client, probe.method)(path, data, **extra)
    # then: not found, nothing of B shown, nothing changed in either account
    assert response.status_code == 404, (probe.method, path, data)
    assert "Bob Secret" not in text(response)
    assert "#B-200" not in text(response)
    assert snapshot(world) == before


def test_the_order_center_never_lists_another_accounts_orders(member_client: Client, world: World) -> None:
    # when A's user opens every tab, searches for B's number and customer
    seen: set[str] = set()
    for status in ("new", "payment", "shipment", "canceled", "refund", "archive"):
        seen.update(order_numbers(member_client.get("/orders/", {"status": status})))
        seen.update(order_numbers(member_client.get("/orders/", {"status": status, "q": "#B-2001"})))
        seen.update(order_numbers(member_client.get("/orders/", {"status": status, "q": "bob secret"})))
    # then only A's orders appeared
    assert seen == {"#A-1001", "#A-1002"}


def test_another_accounts_orders_are_visible_to_their_own_members(client: Client, world: World) -> None:
    # the probes above 404 because of the account, not because the ids are bad
    bob = UserFactory(username="bob")
    MembershipFactory(user=bob, account=world.foreign.account)
    client.force_login(bob)
    assert client.get(f"/orders/{world.foreign.pk}/").status_code == 200
    assert client.get("/orders/", {"store": world.foreign_store_id}).status_code == 200
    assert client.get("/orders/archive/", {"ids": world.foreign.pk}).status_code == 200
    assert client.get(f"/orders/{world.own.pk}/").status_code == 404


def test_switching_to_another_account_is_not_found(member_client: Client, world: World) -> None:
    # when
    response = member_client.post("/accounts/switch/", {"account": world.foreign.account_id})
    # then
    assert response.status_code == 404
    assert order_numbers(member_client.get("/orders/")) == ["#A-1001"]
