"""Which product link buys an order line: matching only (the pages are ``views_links``)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q

from accounts.models import Account
from orders.models import OrderLine
from suppliers.models import ProductLink


def links_for_lines(*, account: Account, store_id: int, lines: Sequence[OrderLine]) -> dict[int, ProductLink]:
    """The link of each line that has one, by line id, in one query.

    A line matches, first match wins: its store's link for its variant id, a link for its variant
    id valid for any store, the store's (then any store's) link for its product id when the link
    names no variant, then a link for its SKU (any store).
    """
    variants = {line.variant_id for line in lines if line.variant_id}
    products = {line.product_id for line in lines if line.product_id}
    skus = {line.sku for line in lines if line.sku}
    if not (variants or products or skus):
        return {}
    wanted = Q(pk__in=[])
    if variants:
        wanted |= Q(channel_variant_id__in=variants)
    if products:
        wanted |= Q(channel_variant_id="", channel_product_id__in=products)
    if skus:
        wanted |= Q(channel_variant_id="", channel_product_id="", sku__in=skus)
    candidates = list(ProductLink.objects.filter(Q(store_id=store_id) | Q(store__isnull=True), wanted, account=account))
    by_variant: dict[tuple[str, bool], ProductLink] = {}
    by_product: dict[tuple[str, bool], ProductLink] = {}
    by_sku: dict[str, ProductLink] = {}
    for candidate in candidates:
        own_store = candidate.store_id == store_id
        if candidate.channel_variant_id:
            by_variant[(candidate.channel_variant_id, own_store)] = candidate
        elif candidate.channel_product_id:
            by_product[(candidate.channel_product_id, own_store)] = candidate
        else:
            by_sku[candidate.sku] = candidate
    found: dict[int, ProductLink] = {}
    for line in lines:
        link: ProductLink | None = (
            (by_variant.get((line.variant_id, True)) or by_variant.get((line.variant_id, False)))
            if line.variant_id
            else None
        )
        if link is None and line.product_id:
            link = by_product.get((line.product_id, True)) or by_product.get((line.product_id, False))
        if link is None and line.sku:
            link = by_sku.get(line.sku)
        if link is not None:
            found[line.pk] = link
    return found
