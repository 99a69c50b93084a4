"""Customer refunds from the channels in: money the merchant gave back to the customer in Shopify,
WooCommerce or TikTok Shop, stored once per (store, channel refund id) whatever path brings it.

Webhooks and pulls hand the refunds of an order (``ChannelOrder.refunds``) to the order upsert,
which calls ``customer_refunds_store`` for the batch in its own transaction (the orders' rows are
locked there, so two deliveries of one order's refunds queue on each other). The statements do
not grow with the number of refunds: one read of the lines, one of the known refunds (the batch's
ids and every refund of its orders), one insert, one update, one insert of events, and two for
refusal notes; one more read only when another transaction stored one of the ids meanwhile.

Decisions:
- A known refund is updated only when the channel's status, amount or lines changed (a fuller
  read repairs lines a truncated one missed); a refund the
  channel reports final (``FINAL_STATUSES``) never goes back to an earlier status (an older
  body arriving late). Bodies older than the stored order never get here (the upsert skips them).
- Refused, never half-stored: a refund with no id, a negative amount or one above the order's
  total, another currency than the order's, or a line the order does not have (or a quantity
  below zero or above the line's) is not stored; the order gets one note saying why (once per
  refund and reason, however often the channel repeats it).
- Caps across refunds: a refund is refused the same way when, with the order's other refunds
  (stored ones and the batch's earlier ones; a new version of a stored refund replaces it, it is
  not added to itself), the money would add up to more than the order's total, or a line's units
  to more than were ordered. Counted are the refunds the margin counts (final,
  ``customer_refund_is_final``): a failed or pending one moves no money, so its retry is not
  refused. A refund with no lines (shipping, tax, an amount only) is capped by the order's total.
- A refund id the store already has on another order is refused the same way (a channel's ids
  are unique per shop; this one is hostile or broken), also when another transaction stores it
  between this batch's read and its insert (``ON CONFLICT DO NOTHING``, then read): nothing is
  lost to an IntegrityError and nothing is stored twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple, Protocol

from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from orders import events
from orders.enums import OrderEventType
from orders.models import CustomerRefund, Order, OrderEvent, OrderLine
from orders.services.customer_refund_status import customer_refund_is_final

# Statuses after which a channel refund does not move any more (Shopify transaction "success",
# WooCommerce refunds exist only when done, TikTok "RETURN_OR_REFUND_REQUEST_COMPLETE").
FINAL_STATUSES = frozenset({"success", "completed", "refunded", "return_or_refund_request_complete"})
MAX_AMOUNT = Decimal("9999999999.99")  # the column's range (12 digits, 2 decimals)
REFUSED_CODE = "customer_refund_refused"


class RefundLineData(NamedTuple):
    channel_line_id: str
    quantity: int
    amount: Decimal


@dataclass(frozen=True)
class CustomerRefundData:
    """One refund as a channel reports it, normalized by its provider's mapping."""

    channel_refund_id: str
    amount: Decimal
    currency: str
    refunded_at: datetime
    reason: str = ""
    status: str = ""
    lines: tuple[RefundLineData, ...] = field(default_factory=tuple)
    # Set by a mapping that could not read this refund (what was wrong): stored never, refused
    # with a note, while the rest of the order's update goes on.
    malformed: str = ""


def customer_refund_malformed(*, channel_refund_id: str, detail: str) -> CustomerRefundData:
    """A refund a mapping could not read: carries its id and what was wrong, to be refused."""
    return CustomerRefundData(
        channel_refund_id=channel_refund_id,
        amount=Decimal(0),
        currency="",
        refunded_at=datetime.min.replace(tzinfo=UTC),
        malformed=detail[:200] or "malformed",
    )


@dataclass
class CustomerRefundsResult:
    created: list[int] = field(default_factory=list)  # CustomerRefund ids
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (channel refund id, reason)


class _Refused(Exception):
    """A refund that cannot be stored, with the reason shown on the order."""


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _checked(
    *, order: Order, refund: CustomerRefundData, lines: dict[str, tuple[int, int]]
) -> tuple[Decimal, list[dict[str, object]]]:
    """The refund's amount and stored lines; ``_Refused`` with the reason when hostile."""
    try:
        amount = _cents(Decimal(refund.amount))
    except (InvalidOperation, TypeError, ValueError):
        raise _Refused(_("the amount is not a number")) from None
    if not amount.is_finite() or amount < 0:
        raise _Refused(_("the amount %(amount)s is below zero") % {"amount": refund.amount})
    if amount > MAX_AMOUNT or amount > order.total:
        raise _Refused(
            _("the amount %(amount)s is more than the order's total %(total)s")
            % {"amount": amount, "total": order.total}
        )
    if refund.currency.strip().upper() != order.currency.upper():
        raise _Refused(
            _("the refund is in %(currency)s, the order in %(order_currency)s")
            % {"currency": refund.currency[:8], "order_currency": order.currency}
        )
    stored: list[dict[str, object]] = []
    for line in refund.lines:
        known = lines.get(line.channel_line_id)
        if known is None:
            raise _Refused(_("line %(line)s is not on the order") % {"line": line.channel_line_id[:64]})
        order_line_id, ordered = known
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity < 0:
            raise _Refused(_("line %(line)s has a quantity below zero") % {"line": line.channel_line_id})
        if line.quantity > ordered:
            raise _Refused(
                _("line %(line)s refunds %(quantity)s of %(ordered)s ordered")
                % {"line": line.channel_line_id, "quantity": line.quantity, "ordered": ordered}
            )
        try:
            line_amount = _cents(Decimal(line.amount))
        except (InvalidOperation, TypeError, ValueError):
            raise _Refused(_("line %(line)s has no amount") % {"line": line.channel_line_id}) from None
        if not line_amount.is_finite() or line_amount < 0 or line_amount > order.total:
            raise _Refused(_("line %(line)s has an impossible amount") % {"line": line.channel_line_id})
        stored.append(
            {
                "order_line_id": order_line_id,
                "channel_line_id": line.channel_line_id,
                "quantity": line.quantity,
                "amount": str(line_amount),
            }
        )
    return amount, stored


class StoreLike(Protocol):
    """A ``channels_sync.Store`` (orders imports no channel app)."""

    pk: int


def customer_refunds_upsert(*, store: StoreLike, order: Order, refunds: Sequence[CustomerRefundData]) -> int:
    """Store ``refunds`` of one order (known ones updated when the channel changed them); the number
    of new rows. Takes the order's row lock, so concurrent deliveries of one order queue."""
    store_id = store.pk
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).get(pk=order.pk, store_id=store_id)
        return len(customer_refunds_store(store_id=store_id, items=[(locked, refunds)]).created)


def customer_refunds_store(
    *, store_id: int, items: Sequence[tuple[Order, Sequence[CustomerRefundData]]]
) -> CustomerRefundsResult:
    """Store the refunds of several orders of one store, in a fixed number of statements.

    The caller holds the orders' row locks inside its transaction (the order upsert does)."""
    result = CustomerRefundsResult()
    wanted = [(order, refund) for order, refunds in items for refund in refunds]
    if not wanted:
        return result
    orders = {order.pk: order for order, _refund in wanted}
    lines: dict[int, dict[str, tuple[int, int]]] = {}
    for line_id, order_id, channel_line_id, quantity in OrderLine.objects.filter(order_id__in=list(orders)).values_list(
        "id", "order_id", "channel_line_id", "quantity"
    ):
        if channel_line_id:
            lines.setdefault(order_id, {})[channel_line_id] = (line_id, quantity)
    ids = {refund.channel_refund_id.strip() for _, refund in wanted if refund.channel_refund_id}
    # One read: the batch's refund ids wherever they are stored, and every refund of its orders
    # (what the caps count).
    known: dict[str, CustomerRefund] = {}
    counted: dict[int, dict[str, _Counted]] = {}
    for stored in CustomerRefund.objects.filter(store_id=store_id).filter(
        Q(channel_refund_id__in=ids) | Q(order_id__in=list(orders))
    ):
        known[stored.channel_refund_id] = stored
        if stored.order_id in orders:
            order_counted = counted.setdefault(stored.order_id, {})
            _counted_set(order_counted, stored.channel_refund_id, stored.status, stored.amount, stored.lines)
    to_create: list[CustomerRefund] = []
    to_update: list[CustomerRefund] = []
    refusals: list[tuple[Order, str, str]] = []
    seen: dict[str, int] = {}  # refund id → the order its first valid copy is on
    for order, refund in wanted:
        refund_id = (refund.channel_refund_id or "").strip()
        order_lines = lines.get(order.pk, {})
        order_counted = counted.setdefault(order.pk, {})
        try:
            if refund.malformed and not refund_id:
                raise _Refused(_("the channel sent it malformed (%(detail)s)") % {"detail": refund.malformed})
            if not refund_id or len(refund_id) > 64:
                raise _Refused(_("the refund has no usable id"))
            if refund.malformed:
                raise _Refused(_("the channel sent it malformed (%(detail)s)") % {"detail": refund.malformed})
            amount, stored_lines = _checked(order=order, refund=refund, lines=order_lines)
            row = known.get(refund_id)
            if row is not None and row.order_id != order.pk:
                raise _Refused(_("the store already has refund %(id)s on another order") % {"id": refund_id})
            if refund_id in seen:  # twice in one batch, after validation: the first valid copy counts
                if seen[refund_id] != order.pk:
                    raise _Refused(_("the channel sent refund %(id)s on another order too") % {"id": refund_id})
                continue
            status, reason = refund.status.strip()[:48], refund.reason.strip()[:500]
            if row is not None and _row_unchanged(row, status=status, amount=amount, lines=stored_lines):
                seen[refund_id] = order.pk
                result.unchanged.append(row.pk)
                continue
            _caps_checked(
                order=order,
                refund_id=refund_id,
                amount=amount,
                lines=stored_lines,
                ordered=order_lines,
                counted=order_counted,
            )
            seen[refund_id] = order.pk
        except _Refused as refused:
            refusals.append((order, refund_id[:64], str(refused)))
            result.refused.append((refund_id[:64], str(refused)))
            continue
        _counted_set(order_counted, refund_id, status, amount, stored_lines)
        if row is None:
            to_create.append(
                CustomerRefund(
                    account_id=order.account_id,
                    store_id=store_id,
                    order=order,
                    channel_refund_id=refund_id,
                    amount=amount,
                    currency=order.currency,
                    lines=stored_lines,
                    reason=reason,
                    status=status,
                    refunded_at=refund.refunded_at,
                )
            )
            continue
        _row_apply(row, status=status, amount=amount, lines=stored_lines, reason=reason, at=refund.refunded_at)
        to_update.append(row)
    created = _rows_insert(to_create) if to_create else []
    if len(created) < len(to_create):
        _conflicts_settle(
            store_id=store_id,
            lost=[row for row in to_create if row.pk is None],
            to_update=to_update,
            refusals=refusals,
            result=result,
        )
    result.created = [row.pk for row in created]
    if to_update:
        CustomerRefund.objects.bulk_update(
            to_update, ["status", "amount", "lines", "reason", "refunded_at", "updated_at"]
        )
        result.updated = [row.pk for row in to_update]
    events.events_customer_refund(
        refunds=[(orders[row.order_id], row, "new") for row in created]
        + [(orders[row.order_id], row, "updated") for row in to_update]
    )
    _notes_refused(refusals)
    return result


class _Counted(NamedTuple):
    """A refund as the caps count it: its amount and its units per order line id."""

    amount: Decimal
    units: dict[int, int]


def _units_of(lines: object) -> dict[int, int]:
    """Units per order line id of a refund's stored lines (a line named twice is summed)."""
    units: dict[int, int] = {}
    for line in lines if isinstance(lines, list) else []:
        line_id = line.get("order_line_id") if isinstance(line, dict) else None
        quantity = line.get("quantity") if isinstance(line, dict) else None
        if isinstance(line_id, int) and isinstance(quantity, int) and not isinstance(quantity, bool):
            units[line_id] = units.get(line_id, 0) + quantity
    return units


def _counted_set(counted: dict[str, _Counted], refund_id: str, status: str, amount: Decimal, lines: object) -> None:
    """Count a refund in its order's caps when the margin counts it (``customer_refund_is_final``):
    a pending, failed or cancelled refund moves no money, and a retry of a failed one is real."""
    if customer_refund_is_final(status):
        counted[refund_id] = _Counted(amount, _units_of(lines))
    else:
        counted.pop(refund_id, None)


def _caps_checked(
    *,
    order: Order,
    refund_id: str,
    amount: Decimal,
    lines: list[dict[str, object]],
    ordered: dict[str, tuple[int, int]],
    counted: dict[str, _Counted],
) -> None:
    """``_Refused`` when this refund, with the order's other counted refunds (stored ones and the
    batch's earlier ones; a stored copy of this refund is replaced, not added), gives back more
    money than the order's total or more units of a line than were ordered. A refund with no
    lines (shipping, tax) is capped by the total only. Checked as if this refund were final
    whatever its status: a pending one that would go over if it completed is refused now."""
    others = [value for key, value in counted.items() if key != refund_id]
    if amount > 0:
        in_all = amount + sum((value.amount for value in others), Decimal(0))
        if in_all > order.total:
            raise _Refused(
                _("the order's refunds would add up to %(amount)s, more than its total %(total)s")
                % {"amount": in_all, "total": order.total}
            )
    names = {line_id: (channel_line_id, quantity) for channel_line_id, (line_id, quantity) in ordered.items()}
    for line_id, units in _units_of(lines).items():
        if units <= 0:
            continue
        in_all_units = units + sum(value.units.get(line_id, 0) for value in others)
        channel_line_id, bought = names.get(line_id, ("?", 0))
        if in_all_units > bought:
            raise _Refused(
                _("line %(line)s would have %(quantity)s units refunded in all, of %(ordered)s ordered")
                % {"line": channel_line_id[:64], "quantity": in_all_units, "ordered": bought}
            )


def _row_unchanged(row: CustomerRefund, *, status: str, amount: Decimal, lines: list[dict[str, object]]) -> bool:
    """Nothing to write: the channel says what is stored, or an older body goes back from a final status."""
    regress = row.status.lower() in FINAL_STATUSES and status.lower() not in FINAL_STATUSES
    return regress or (row.status == status and row.amount == amount and row.lines == lines)


def _row_apply(
    row: CustomerRefund,
    *,
    status: str,
    amount: Decimal,
    lines: list[dict[str, object]],
    reason: str,
    at: datetime,
) -> None:
    row.status, row.amount, row.lines, row.reason, row.refunded_at = status, amount, lines, reason, at


# Rows per INSERT statement (12 parameters each, far below PostgreSQL's 65,535).
INSERT_CHUNK = 1000


def _rows_insert(rows: list[CustomerRefund]) -> list[CustomerRefund]:
    """``INSERT … ON CONFLICT (store, channel refund id) DO NOTHING RETURNING id``; the rows inserted
    (their ids set). A refund id another transaction stored after this batch read the known ones
    (a webhook and a pull at once, a hostile body naming another order's refund) is left out
    instead of failing the batch with IntegrityError: PostgreSQL waits for that transaction, and
    ``_conflicts_settle`` reads what it committed."""
    meta = CustomerRefund._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    conflict = ", ".join(quote(column) for column in ("store_id", "channel_refund_id"))  # customerrefund_store_id_uniq
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    inserted: list[CustomerRefund] = []
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        params = [field.get_db_prep_save(field.pre_save(row, True), connection) for row in chunk for field in fields]
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row_sql] * len(chunk))} "  # noqa: S608 - names from the model, values bound
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote('id')}, {quote('channel_refund_id')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = {refund_id: pk for pk, refund_id in cursor.fetchall()}
        for row in chunk:
            if (pk := ids.get(row.channel_refund_id)) is not None:
                row.pk, row._state.adding, row._state.db = pk, False, connection.alias
                inserted.append(row)
    return inserted


def _conflicts_settle(
    *,
    store_id: int,
    lost: list[CustomerRefund],
    to_update: list[CustomerRefund],
    refusals: list[tuple[Order, str, str]],
    result: CustomerRefundsResult,
) -> None:
    """The refunds another transaction stored between this batch's read and its insert (one more
    read, only then): one on another order is refused with the note, as the sequential path does;
    one on the same order (a worker the order's lock did not queue) is updated when ours differs."""
    stored = {
        row.channel_refund_id: row
        for row in CustomerRefund.objects.filter(
            store_id=store_id, channel_refund_id__in=[mine.channel_refund_id for mine in lost]
        )
    }
    for mine in lost:
        row = stored.get(mine.channel_refund_id)
        if row is None:  # committed and deleted meanwhile: the next read of the order stores it
            continue
        if row.order_id != mine.order_id:
            reason = _("the store already has refund %(id)s on another order") % {"id": mine.channel_refund_id}
            refusals.append((mine.order, mine.channel_refund_id, reason))
            result.refused.append((mine.channel_refund_id, reason))
        elif _row_unchanged(row, status=mine.status, amount=mine.amount, lines=mine.lines):
            result.unchanged.append(row.pk)
        else:
            _row_apply(
                row, status=mine.status, amount=mine.amount, lines=mine.lines, reason=mine.reason, at=mine.refunded_at
            )
            to_update.append(row)


def _notes_refused(refusals: list[tuple[Order, str, str]]) -> None:
    """One note per order, refund and reason: a channel that keeps sending the same bad refund
    (every pull) does not fill the timeline."""
    if not refusals:
        return
    noted = {
        (order_id, params.get("refund_id"), params.get("reason"))
        for order_id, params in OrderEvent.objects.filter(
            order_id__in={order.pk for order, _id, _why in refusals},
            type=OrderEventType.NOTE,
            parameters__code=REFUSED_CODE,
        ).values_list("order_id", "parameters")
    }
    fresh: dict[tuple[int, str, str], Order] = {}
    for order, refund_id, reason in refusals:
        key = (order.pk, refund_id, reason)
        if key not in noted:
            fresh.setdefault(key, order)
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(
                order=order,
                type=OrderEventType.NOTE,
                parameters={
                    "code": REFUSED_CODE,
                    "refund_id": refund_id,
                    "reason": reason,
                    "text": _("A customer refund %(id)s from the channel was not recorded: %(reason)s.")
                    % {"id": refund_id or "?", "reason": reason},
                },
            )
            for (_order_id, refund_id, reason), order in fresh.items()
        ]
    )
