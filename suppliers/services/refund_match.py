"""Which of the supplier's refund requests is ours (``refund_find``), never a guess.

1. By the supplier's id, once we know it.
2. By our key, where the supplier echoes it (a list that echoes keys and not ours: not ours).
3. A supplier whose list echoes no key (CJ's ``businessDisputeId`` may not come back): only after
   we sent a create (``create_sent_at``), the one request no other refund of ours holds, asking
   the same money on the same lines (supplier product and units, where the supplier lists them),
   made no earlier than our first create (``CLOCK_SLACK`` for the two clocks). None when that is
   not exactly one, or when another open refund of ours on the same supplier order, sent and not
   yet matched, could be it too: the sync tries again, it never takes another refund's dispute.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from orders.models import Refund
from suppliers.providers.base import RefundInfo
from suppliers.services.refunds import OPEN

CLOCK_SLACK = timedelta(minutes=5)


def _lines(refund: Refund) -> Counter[tuple[str, int]]:
    parts = refund.lines.select_related("supplier_order_line")
    return Counter((part.supplier_order_line.supplier_product_id, part.quantity) for part in parts)


def _fits(info: RefundInfo, refund: Refund, lines: Counter[tuple[str, int]]) -> bool:
    if not info.external_id or info.idempotency_key or info.amount is None or info.amount != refund.amount:
        return False
    if info.lines and Counter(info.lines) != lines:
        return False
    if info.created_at is not None and refund.create_sent_at is not None:
        return info.created_at >= refund.create_sent_at - CLOCK_SLACK
    return True


def refund_candidates(infos: list[RefundInfo], refund: Refund) -> list[RefundInfo]:
    """The supplier's keyless requests that could be this refund's (none unless we sent a create)."""
    if refund.create_sent_at is None or refund.supplier_order_id is None:
        return []
    taken = set(
        Refund.objects.filter(supplier_order_id=refund.supplier_order_id)
        .exclude(pk=refund.pk)
        .exclude(external_id="")
        .values_list("external_id", flat=True)
    )
    lines = _lines(refund)
    return [info for info in infos if info.external_id not in taken and _fits(info, refund, lines)]


def refund_find(infos: list[RefundInfo], refund: Refund) -> RefundInfo | None:
    """Our request among the supplier's (the module docstring's order); None: not found or not sure."""
    if refund.external_id:
        found = next((info for info in infos if info.external_id == refund.external_id), None)
        if found is not None:
            return found
    keyed = next(
        (info for info in infos if info.idempotency_key and info.idempotency_key == refund.idempotency_key), None
    )
    if keyed is not None or any(info.idempotency_key for info in infos):
        return keyed
    same = refund_candidates(infos, refund)
    if len(same) != 1:
        return None
    rivals = (
        Refund.objects.filter(supplier_order_id=refund.supplier_order_id, state__in=OPEN, external_id="")
        .exclude(pk=refund.pk)
        .exclude(create_sent_at__isnull=True)
    )
    for rival in rivals.prefetch_related("lines__supplier_order_line"):
        if _fits(same[0], rival, _lines(rival)):
            return None  # another of ours could be it: never a guess
    return same[0]
