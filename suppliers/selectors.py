"""Reads for the placement pages. Every function takes the account: no query crosses tenants."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Count, IntegerField, Prefetch, Q, Value, When
from django.utils import timezone

from accounts.models import Account
from orders.enums import OrderStatus
from orders.models import Order
from suppliers.enums import PlacementOutcome
from suppliers.models import PlacementBatch, PlacementResult, SupplierOrder, SupplierOrderTransition

# A finished batch stays at the top of the order center this long after it ends (a reload
# right after the end still shows what happened); its own page keeps it for good.
RECENT_BATCH = timedelta(minutes=2)
PROBLEMS = (
    PlacementOutcome.BLOCKED,
    PlacementOutcome.REFUSED,
    PlacementOutcome.PAYMENT_FAILED,
    PlacementOutcome.UNKNOWN,
)


def placement_batches_showing(*, account: Account, user: AbstractBaseUser, limit: int = 5) -> list[PlacementBatch]:
    """The user's batches still running (or just finished), newest first: one query."""
    recent = timezone.now() - RECENT_BATCH
    return list(
        PlacementBatch.objects.filter(account=account, created_by_id=user.pk)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=recent))
        .order_by("-created_at", "-id")[:limit]
    )


def placement_batch_results(*, batch: PlacementBatch, limit: int) -> list[PlacementResult]:
    """The batch's finished results, problems first (they need the merchant), then the latest."""
    return list(
        PlacementResult.objects.filter(batch=batch)
        .exclude(outcome="")
        .select_related("order")
        .annotate(
            problem=Case(When(outcome__in=PROBLEMS, then=Value(0)), default=Value(1), output_field=IntegerField())
        )
        .order_by("problem", "-finished_at", "-id")[:limit]
    )


def supplier_orders_of_order(*, account: Account, order: Order) -> list[SupplierOrder]:
    """Every supplier order of ``order`` (history included) with lines, accounts and transitions."""
    return list(
        SupplierOrder.objects.filter(account=account, order_id=order.pk)
        .select_related("source_account")
        .prefetch_related(
            "lines__order_line",
            Prefetch(
                "transitions",
                queryset=SupplierOrderTransition.objects.select_related("actor", "rule__store").order_by("at", "id"),
            ),
        )
        .order_by("-created_at", "-id")
    )


def order_of_account(*, account: Account, order_id: int) -> Order:
    """One order of the account with its supplier orders (``Order.DoesNotExist`` otherwise)."""
    return (
        Order.objects.select_related("store")
        .prefetch_related("lines", "supplier_orders__source_account")
        .get(account=account, pk=order_id)
    )


def orders_found_and_placeable(*, account: Account, order_ids: list[int]) -> tuple[int, int]:
    """How many of ``order_ids`` are the account's, and how many of those are in New: one query."""
    counts = Order.objects.filter(account=account, pk__in=order_ids).aggregate(
        found=Count("pk"), placeable=Count("pk", filter=Q(archived=False, status=OrderStatus.NEW))
    )
    return counts["found"], counts["placeable"]
