"""Reads for the product links pages; every one takes the account (tenant isolation)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet

from accounts.models import Account
from orders.models import OrderLine
from suppliers.models import ProductLink
from suppliers.services.links import links_for_lines

# At most this many unlinked SKUs are offered at once (the most recently ordered first).
UNLINKED_SKUS_SHOWN = 200


@dataclass(frozen=True)
class LinkFilter:
    q: str = ""
    provider: str = ""
    store_id: int | None = None
    unavailable: bool = False


def product_links_page(
    *, account: Account, link_filter: LinkFilter, before_id: int | None, page_size: int
) -> tuple[list[ProductLink], int | None]:
    """One page of the account's links, newest first (keyset on id); the id to continue before."""
    links = ProductLink.objects.filter(account=account)
    if link_filter.q:
        q = link_filter.q
        links = links.filter(
            Q(sku__icontains=q)
            | Q(title__icontains=q)
            | Q(channel_product_id=q)
            | Q(channel_variant_id=q)
            | Q(supplier_product_id=q)
            | Q(supplier_sku__icontains=q)
        )
    if link_filter.provider:
        links = links.filter(Q(provider=link_filter.provider) | Q(backup_provider=link_filter.provider))
    if link_filter.store_id is not None:
        links = links.filter(store_id=link_filter.store_id)
    if link_filter.unavailable:
        links = links.filter(unavailable_at__isnull=False)
    if before_id is not None:
        links = links.filter(pk__lt=before_id)
    rows = list(links.select_related("store").order_by("-id")[: page_size + 1])
    if len(rows) > page_size:
        rows = rows[:page_size]
        return rows, rows[-1].pk
    return rows, None


def unavailable_link_count(*, account: Account) -> int:
    return ProductLink.objects.filter(account=account, unavailable_at__isnull=False).count()


@dataclass(frozen=True)
class UnlinkedSku:
    sku: str
    title: str
    orders: int
    last_ordered_at: datetime


def unlinked_skus(*, account: Account, q: str = "", limit: int = UNLINKED_SKUS_SHOWN) -> list[UnlinkedSku]:
    """SKUs on the account's (not archived) order lines that no link buys, most recently ordered first.

    A SKU is offered when at least one line carrying it matches no link (``links_for_lines``:
    its variant, its product or its SKU); a SKU that already has a SKU link is left out in SQL.
    """
    sku_linked = ProductLink.objects.filter(
        account=account, channel_variant_id="", channel_product_id="", sku=OuterRef("sku")
    )
    lines = OrderLine.objects.filter(order__account=account, order__archived=False).exclude(sku="")
    lines = lines.exclude(Exists(sku_linked))
    if q:
        lines = lines.filter(Q(sku__icontains=q) | Q(title__icontains=q))
    rows = list(
        lines.values("sku")
        .annotate(title=Max("title"), orders=Count("order", distinct=True), last=Max("order__placed_at"))
        .order_by("-last", "sku")[:limit]
    )
    if not rows:
        return []
    # One representative per (store, SKU, variant, product): linked by variant or product, or not.
    combos = (
        OrderLine.objects.filter(order__account=account, order__archived=False, sku__in=[row["sku"] for row in rows])
        .values_list("order__store_id", "sku", "variant_id", "product_id")
        .distinct()
    )
    by_store: dict[int, list[OrderLine]] = defaultdict(list)
    for number, (store_id, sku, variant_id, product_id) in enumerate(combos, start=1):
        # Unsaved lines, numbered for ``links_for_lines`` (which answers by line id).
        by_store[store_id].append(OrderLine(pk=number, sku=sku, variant_id=variant_id, product_id=product_id))
    unlinked: set[str] = set()
    for store_id, store_lines in by_store.items():
        matched = links_for_lines(account=account, store_id=store_id, lines=store_lines)
        unlinked.update(line.sku for line in store_lines if line.pk not in matched)
    return [
        UnlinkedSku(sku=row["sku"], title=row["title"], orders=row["orders"], last_ordered_at=row["last"])
        for row in rows
        if row["sku"] in unlinked
    ]


def skus_on_orders(*, account: Account, skus: list[str]) -> set[str]:
    """Which of ``skus`` appear on the account's order lines (a bulk link takes only those)."""
    wanted = {sku.strip() for sku in skus if sku.strip()}
    if not wanted:
        return set()
    return set(
        OrderLine.objects.filter(order__account=account, sku__in=wanted).values_list("sku", flat=True).distinct()
    )


def order_line_for_link(*, account: Account, line_id: int) -> OrderLine | None:
    """An order line of the account (with its order and store), or None for any other id."""
    return OrderLine.objects.filter(order__account=account, pk=line_id).select_related("order__store").first()


def stores_of(*, account: Account) -> QuerySet:
    """The account's stores, for the store choice (through ``account.stores``: no channels_sync import)."""
    return account.stores.order_by("name", "id")
