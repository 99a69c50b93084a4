"""Reads of channel sync; every merchant-facing one takes the account."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Account
from channels_sync.models import Store


def stores_with_health(*, account: Account) -> QuerySet[Store]:
    """The account's stores with their orders of the last 24 h, in one query whatever their number."""
    since = timezone.now() - timedelta(hours=24)
    return (
        Store.objects.filter(account=account)
        .annotate(orders_24h=Count("orders", filter=Q(orders__created_at__gte=since)))
        .order_by("name", "id")
    )


def store_get(*, account: Account, store_id: int) -> Store:
    return get_object_or_404(Store, account=account, pk=store_id)
