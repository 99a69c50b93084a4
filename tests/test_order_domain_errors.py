"""Orders services and selectors raise domain errors (``orders.errors``), never HTTP ones, and
take no request; the views map the errors to 404 with nothing changed."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from django.http import Http404
from django.test import Client

from orders import selectors
from orders.errors import OrdersNotFound
from orders.models import Order
from orders.services import order_confirm_duplicate, orders_archive
from tests.factories import OrderFactory

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_MODULES = sorted(
    [*(ROOT / "orders" / "services").glob("*.py"), ROOT / "orders" / "selectors.py", ROOT / "orders" / "derivation.py"]
)


def _http_coupling(path: Path) -> list[str]:
    """Imports of Django's HTTP layer and parameters named ``request`` in ``path``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module in {"django.http", "django.shortcuts"}:
            found.append(f"{path.name}:{node.lineno} imports {node.module}")
        if isinstance(node, ast.FunctionDef):
            params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            found += [f"{path.name}:{node.lineno} {node.name}(request)" for arg in params if arg.arg == "request"]
    return found


def test_orders_services_and_selectors_know_nothing_of_http() -> None:
    assert ROOT / "orders" / "services" / "archive.py" in DOMAIN_MODULES
    assert [line for path in DOMAIN_MODULES for line in _http_coupling(path)] == []


@pytest.mark.django_db
def test_the_not_found_error_is_a_domain_error_that_names_the_missing_ids(store: Any, other_store: Any) -> None:
    # given
    mine, foreign = OrderFactory(store=store), OrderFactory(store=other_store)
    # when / then: a lookup error a task can handle, not an HTTP response
    assert not issubclass(OrdersNotFound, Http404)
    with pytest.raises(OrdersNotFound) as archive_error:
        orders_archive(account=store.account, order_ids=[mine.pk, foreign.pk])
    assert archive_error.value.order_ids == [foreign.pk]
    with pytest.raises(OrdersNotFound) as confirm_error:
        order_confirm_duplicate(account=store.account, order_id=foreign.pk)
    assert confirm_error.value.order_ids == [foreign.pk]
    with pytest.raises(OrdersNotFound):
        selectors.order_get(account=store.account, order_id=foreign.pk)
    # and nothing changed
    assert Order.objects.filter(archived=True).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/orders/{id}/"),
        ("post", "/orders/{id}/confirm-duplicate/"),
        ("post", "/orders/archive/?ids={id}"),
        ("post", "/orders/restore/?ids={id}"),
    ],
)
def test_the_views_map_a_foreign_order_to_a_404_and_change_nothing(
    member_client: Client, store: Any, other_store: Any, method: str, path: str
) -> None:
    # given another account's order
    foreign = OrderFactory(store=other_store)
    url = path.format(id=foreign.pk)
    data = {"ids": [foreign.pk]} if "ids=" in url else {}
    # when
    response = getattr(member_client, method)(url.split("?")[0], data)
    # then
    assert response.status_code == 404
    stored = Order.objects.get(pk=foreign.pk)
    assert (stored.archived, stored.duplicate_confirmed) == (False, False)
