"""Refunds in the order center, mounted under /orders/refunds/ (namespace ``refunds``).

Any member of the account (owners and staff: staff work the orders) may ask a supplier for a
refund, record what a supplier without a refund API answered, and send a failed request again.
Every id is the account's or a 404; every POST carries the CSRF token (htmx sends it from the
page's ``hx-headers``). Refusals are the form again with the message at its field (422), never a 500.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from accounts.decorators import account_required
from accounts.navigation import safe_next_path
from orders import selectors as order_selectors
from orders.errors import OrdersNotFound
from orders.models import CustomerRefund, Order, Refund
from orders.views import drawer_context
from suppliers.forms_refunds import RefundOutcomeForm, RefundRequestForm, amount_cap, request_initial
from suppliers.models import SupplierOrder
from suppliers.selectors_refunds import customer_refund_of_order, refund_of_account, supplier_order_on_order
from suppliers.services.refunds import (
    RefundRefused,
    customer_refund_units,
    refund_decision_record,
    refund_request,
    refund_room,
    refund_send_retry,
    refundable_supplier_orders,
)
from zopi.formatting import money_number

REQUEST_TEMPLATE = "suppliers/refund_request.html"
# Where htmx puts the redrawn order: the drawer or page around the form (htmx's extended selector).
DRAWER_TARGET = "closest .drawer"


def _int_or_none(value: str | None) -> int | None:
    # isdigit() alone is true for "²" or "①", which int() refuses: ASCII digits only.
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    return int(value)


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    try:
        return order_selectors.order_get(account=request.account, order_id=order_id)  # type: ignore[attr-defined]
    except OrdersNotFound:
        raise Http404(_("No such order in this account.")) from None


def _customer_quantities(request: HttpRequest, order: Order) -> tuple[CustomerRefund | None, dict[int, int] | None]:
    """``?customer_refund=<id>``: that refund's units by order line (None: no prefill asked)."""
    raw = request.GET.get("customer_refund")
    if raw is None:
        return None, None
    wanted = _int_or_none(raw)
    customer_refund = (
        customer_refund_of_order(account=request.account, order=order, customer_refund_id=wanted)  # type: ignore[attr-defined]
        if wanted is not None
        else None
    )
    if customer_refund is None:
        raise Http404(_("No such customer refund on this order."))
    return customer_refund, customer_refund_units(customer_refund)


def _prefix(supplier_order: SupplierOrder) -> str:
    return f"so{supplier_order.pk}"


def _entries(
    supplier_orders: list[SupplierOrder],
    *,
    by_order_line: dict[int, int] | None,
    bound: tuple[int, RefundRequestForm] | None = None,
) -> list[dict[str, Any]]:
    entries = []
    for supplier_order in supplier_orders:
        room = refund_room(supplier_order=supplier_order)
        if bound is not None and bound[0] == supplier_order.pk:
            form = bound[1]
        else:
            quantities = (
                None
                if by_order_line is None
                else {line.supplier_order_line_id: by_order_line.get(line.order_line_id, 0) for line in room.lines}
            )
            form = RefundRequestForm(
                room=room, initial=request_initial(room, quantities), prefix=_prefix(supplier_order)
            )
        open_lines = [line for line in room.lines if line.quantity_left > 0 and not line.under_open_request]
        entries.append(
            {
                "supplier_order": supplier_order,
                "supplier": supplier_order.get_provider_display(),
                "room": room,
                "form": form,
                "nothing_left": not open_lines,
            }
        )
    return entries


@require_http_methods(["GET", "POST"])
@account_required
def refund_request_view(request: HttpRequest, order_id: int) -> HttpResponse:
    """GET: a form per refundable supplier order (``?customer_refund=`` prefills its lines). POST:
    the request (``supplier_order`` says which), or "Recalculate" (the amount set to the cap)."""
    order = _order_or_404(request, order_id)
    in_drawer = bool(request.htmx)  # type: ignore[attr-defined]
    customer_refund, by_order_line = _customer_quantities(request, order) if request.method == "GET" else (None, None)
    supplier_orders = refundable_supplier_orders(order=order)
    next_url = safe_next_path(request.POST.get("next") or request.GET.get("next")) or ""
    context: dict[str, Any] = {
        "order": order,
        "in_drawer": in_drawer,
        "customer_refund": customer_refund,
        "next_url": next_url,
    }
    template = f"{REQUEST_TEMPLATE}#form" if in_drawer else REQUEST_TEMPLATE
    if request.method == "GET":
        context["entries"] = _entries(supplier_orders, by_order_line=by_order_line)
        return render(request, template, context)

    wanted = _int_or_none(request.POST.get("supplier_order"))
    supplier_order = next((so for so in supplier_orders if so.pk == wanted), None)
    if supplier_order is None:
        if wanted is None or not supplier_order_on_order(account=order.account, order=order, supplier_order_id=wanted):
            raise Http404(_("No such supplier order on this order."))
        context["entries"] = _entries(supplier_orders, by_order_line=None)
        context["refused"] = _(
            "A refund can be asked once the supplier order is paid and the order is in Shipment "
            "or canceled by the supplier."
        )
        return render(request, template, context, status=422)
    room = refund_room(supplier_order=supplier_order)
    form = RefundRequestForm(request.POST, room=room, prefix=_prefix(supplier_order))
    if "recalculate" in request.POST:
        form.is_valid()  # the units chosen (a unit that is not a number counts as none)
        data = request.POST.copy()
        data[f"{_prefix(supplier_order)}-amount"] = str(amount_cap(room, form))
        form = RefundRequestForm(data, room=room, prefix=_prefix(supplier_order))
        form.errors.clear()  # a recalculation is not a submission: no errors shown yet
        context["entries"] = _entries(supplier_orders, by_order_line=None, bound=(supplier_order.pk, form))
        return render(request, template, context)
    if form.is_valid():
        try:
            refund = refund_request(
                account=request.account,  # type: ignore[attr-defined]
                order_id=order.pk,
                supplier_order_id=supplier_order.pk,
                lines=form.ask_lines(),
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                evidence=form.cleaned_data["evidence"],
                user=request.user,  # type: ignore[arg-type]
            )
        except RefundRefused as refused:
            form.refused_at(refused.field, refused.message)
        except SupplierOrder.DoesNotExist:
            raise Http404(_("No such supplier order on this order.")) from None
        else:
            message = _("Refund of %(amount)s %(currency)s asked of %(supplier)s: in review.") % {
                "amount": money_number(refund.amount, refund.currency),
                "currency": refund.currency,
                "supplier": supplier_order.get_provider_display(),
            }
            return _done(request, order.pk, message, next_url=next_url)
    context["entries"] = _entries(supplier_orders, by_order_line=None, bound=(supplier_order.pk, form))
    return render(request, template, context, status=422)


def _refund_or_404(request: HttpRequest, refund_id: int) -> Refund:
    refund = refund_of_account(account=request.account, refund_id=refund_id)  # type: ignore[attr-defined]
    if refund is None:
        raise Http404(_("No such refund in this account."))
    return refund


def _drawer(request: HttpRequest, order_id: int, *, status: int = 200, **extra: Any) -> HttpResponse:
    """The order's drawer or its page, with ``extra`` in the context. htmx: swapped into the
    ``.drawer`` holding the form that asked (the order center's ``#drawer`` or the order page's
    ``.drawer-page``: the page has no ``#drawer``)."""
    order = _order_or_404(request, order_id)
    context = {**drawer_context(order), **extra}
    if request.htmx:  # type: ignore[attr-defined]
        response = render(request, "orders/order_detail.html#drawer", context, status=status)
        return reswap(retarget(response, DRAWER_TARGET), "innerHTML")
    context["back_url"] = reverse("orders:center")
    return render(request, "orders/order_detail.html", context, status=status)


def _done(request: HttpRequest, order_id: int, message: str, *, next_url: str = "") -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return trigger_client_event(_drawer(request, order_id), "toast", {"message": message})
    messages.success(request, message)
    detail = reverse("orders:detail", args=[order_id])  # back to the order, its back link kept
    return HttpResponseRedirect(f"{detail}?{urlencode({'next': next_url})}" if next_url else detail)


def _refused(request: HttpRequest, order_id: int, message: str) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        response = _drawer(request, order_id, status=422, refund_refused=message)
        return trigger_client_event(response, "toast", {"message": message})
    return _drawer(request, order_id, status=422, refund_refused=message)


@require_POST
@account_required
def refund_outcome_view(request: HttpRequest, refund_id: int) -> HttpResponse:
    """The merchant records what the supplier answered on its own site (no refund API)."""
    refund = _refund_or_404(request, refund_id)
    form = RefundOutcomeForm(request.POST, asked=refund.amount, auto_id=f"r{refund.pk}-%s")
    if not refund.is_open or refund.via != "merchant":
        return _refused(request, refund.order_id, _("This refund's outcome cannot be recorded here."))
    if not form.is_valid():
        return _drawer(request, refund.order_id, status=422, outcome_form=form, outcome_refund_id=refund.pk)
    state = form.cleaned_data["outcome"]
    try:
        refund, moved = refund_decision_record(
            refund_id=refund.pk,
            state=state,
            rejection_reason=form.cleaned_data["rejection_reason"],
            refunded_amount=form.cleaned_data["refunded_amount"],
            account=request.account,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            source="merchant",
        )
    except Refund.DoesNotExist:
        raise Http404(_("No such refund in this account.")) from None
    if not moved:
        return _refused(request, refund.order_id, _("The refund is already past that point: nothing changed."))
    return _done(request, refund.order_id, _("Recorded: %(state)s.") % {"state": refund.get_state_display()})


@require_POST
@account_required
def refund_retry_view(request: HttpRequest, refund_id: int) -> HttpResponse:
    """A request whose delivery to the supplier failed: its tries start over."""
    refund = _refund_or_404(request, refund_id)
    try:
        refund_send_retry(account=request.account, refund_id=refund.pk, user=request.user)  # type: ignore[attr-defined,arg-type]
    except RefundRefused as refused:
        return _refused(request, refund.order_id, refused.message)
    except Refund.DoesNotExist:
        raise Http404(_("No such refund in this account.")) from None
    return _done(request, refund.order_id, _("The refund request is being sent again."))
