"""Helpers for placement tests: a merchant with connected supplier accounts (sandbox over HTTP),
product links and orders ready to place. Real rows, real services: nothing is mocked."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import Account
from orders.models import Order
from suppliers.enums import PaymentMode, SupplierProvider
from suppliers.models import ProductLink, SourceAccount
from suppliers.providers.cj import CjProvider
from tests.factories import OrderFactory, StoreFactory, line

# One product per supplier the sandboxes sell (AliExpress product id + sku_attr; CJ vid; Temu sku).
PRODUCTS: dict[str, tuple[str, str]] = {
    SupplierProvider.ALIEXPRESS: ("1005006454451334", "14:193#Black"),
    SupplierProvider.CJ: ("VID-1001", ""),
    SupplierProvider.TEMU: ("601099512345678", ""),
}

US_ADDRESS = {
    "ship_name": "Ana Souza",
    "ship_phone": "+1 512 555 0100",
    "ship_address1": "1 Main St",
    "ship_city": "Austin",
    "ship_province": "Texas",
    "ship_province_code": "TX",
    "ship_zip": "78701",
    "ship_country_code": "US",
}


def source_account_connect(
    control: Any, account: Account, provider: str, *, name: str = "", payment_mode: str = PaymentMode.WITH_ORDER
) -> SourceAccount:
    """A supplier account of ``account`` connected to a sandbox account (created if needed)."""
    sim = control.account(provider, name or f"{provider}-{account.pk}")
    credentials = dict(sim["credentials"])
    if provider == SupplierProvider.CJ:
        grant = CjProvider.token_get(base_url=sim["base_url"], api_key=credentials["api_key"])
        credentials = {**credentials, **grant.credentials()}
    return SourceAccount.objects.create(
        account=account,
        provider=provider,
        name=sim["name"],
        external_id=sim["name"],
        base_url=sim["base_url"],
        credentials=credentials,
        payment_mode=payment_mode,
        connected_at=timezone.now(),
    )


def link_sku(account: Account, sku: str, provider: str, **fields: Any) -> ProductLink:
    product_id, supplier_sku = PRODUCTS[provider]
    return ProductLink.objects.create(
        account=account,
        sku=sku,
        provider=provider,
        supplier_product_id=fields.pop("supplier_product_id", product_id),
        supplier_sku=fields.pop("supplier_sku", supplier_sku),
        unit_cost=fields.pop("unit_cost", Decimal("4.00")),
        **fields,
    )


def order_to_place(store: Any, *, skus: tuple[str, ...] = ("EB-1",), address: dict[str, str] | None = None) -> Order:
    order = OrderFactory(store=store, lines=tuple(line(f"Product {sku}", sku=sku, quantity=2) for sku in skus))
    Order.objects.filter(pk=order.pk).update(**(US_ADDRESS if address is None else address))
    return Order.objects.get(pk=order.pk)


def merchant(account_name: str = "Placing merchant") -> tuple[Account, Any]:
    store = StoreFactory(account=Account.objects.create(name=account_name))
    return store.account, store
