"""The official ``woocommerce`` package against the simulated site over plain HTTP, so with OAuth 1.0a.

The client is built exactly as in WooCommerce's docs; only ``url`` is the sandbox's site URL.
"""

from __future__ import annotations

from typing import Any

import pytest
from woocommerce import API

from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control

pytestmark = SANDBOX_LIVE_DB


@pytest.fixture
def site(control: Control) -> dict[str, Any]:
    return control.account("woocommerce", "demo-store")


@pytest.fixture
def wcapi(site: dict[str, Any]) -> API:
    credentials = site["credentials"]
    return API(
        url=site["base_url"],
        consumer_key=credentials["consumer_key"],
        consumer_secret=credentials["consumer_secret"],
        version="wc/v3",
        timeout=10,
    )


def test_official_client_lists_every_order_across_pages_with_oauth(control: Control, wcapi: API) -> None:
    created = control.create_orders("woocommerce", "demo-store", count=10, seed=5)

    pages = [wcapi.get("orders", params={"per_page": 4, "page": page}) for page in (1, 2, 3)]

    assert [r.status_code for r in pages] == [200, 200, 200]
    assert [(r.headers["X-WP-Total"], r.headers["X-WP-TotalPages"]) for r in pages] == [("10", "3")] * 3
    listed = [order["id"] for r in pages for order in r.json()]
    assert listed == sorted((int(i) for i in created), reverse=True)
    assert pages[0].links["next"]["url"].endswith("per_page=4&page=2")
    assert "prev" in pages[2].links
    assert "next" not in pages[2].links


def test_official_client_reads_an_order_with_real_field_types(control: Control, wcapi: API) -> None:
    [order_id] = control.create_orders("woocommerce", "demo-store", count=1, seed=9)

    order = wcapi.get(f"orders/{order_id}").json()

    assert (order["id"], order["number"], order["status"], order["currency"]) == (
        int(order_id),
        order_id,
        "processing",
        "USD",
    )
    assert isinstance(order["total"], str)
    assert isinstance(order["line_items"][0]["price"], int | float)
    assert len(order["date_created"]) == 19
    assert len(order["date_created_gmt"]) == 19
    assert order["date_paid"] is not None
    assert order["date_completed"] is None


def test_official_client_completes_an_order(control: Control, wcapi: API) -> None:
    [order_id] = control.create_orders("woocommerce", "demo-store", count=1, seed=6)

    response = wcapi.put(f"orders/{order_id}", {"status": "completed"})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["date_completed"] is not None) == ("completed", True)
    assert wcapi.get(f"orders/{order_id}").json()["status"] == "completed"
    notes = wcapi.get(f"orders/{order_id}/notes").json()
    assert [n["note"] for n in notes] == ["Order status changed from Processing to Completed."]
    assert [(f["order_id"], f["tracking_number"]) for f in control.fulfillments()] == [(order_id, "")]


def test_official_client_adds_a_tracking_note(control: Control, wcapi: API) -> None:
    [order_id] = control.create_orders("woocommerce", "demo-store", count=1, seed=7)

    response = wcapi.post(
        f"orders/{order_id}/notes",
        {"note": "Shipped via YunExpress, tracking number: YT2412345678901234", "customer_note": True},
    )

    assert response.status_code == 201
    assert (response.json()["note"], response.json()["customer_note"]) == (
        "Shipped via YunExpress, tracking number: YT2412345678901234",
        True,
    )
    assert [(f["order_id"], f["tracking_number"], f["tracking_company"]) for f in control.fulfillments()] == [
        (order_id, "YT2412345678901234", "YunExpress")
    ]
