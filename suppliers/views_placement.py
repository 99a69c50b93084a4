"""Placement in the order center: Place (one, the selected, the whole filtered tab) with a progress
indicator, and the Payment tab's Retry payment, Cancel and Re-place. One small view per use case
over a service; staff may use them all (order work). Mounted under /orders/place/.

Every id is resolved through the account (404 otherwise); every POST is CSRF-checked; a double
submit is harmless (the services hold each supplier call under a lease and record it once).
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import reswap, trigger_client_event

from accounts.decorators import account_required
from accounts.navigation import safe_next_path
from orders import selectors as order_selectors
from orders.enums import OrderStatus
from orders.forms import OrderCenterForm, parse_order_ids
from orders.models import Order
from suppliers import selectors
from suppliers.enums import CanceledBy
from suppliers.models import IN_FLIGHT_STATES, PlacementBatch
from suppliers.presentation import placement_row
from suppliers.services.batches import placement_batch_create, placement_batch_of
from suppliers.services.payment import PAYABLE_STATES, order_replace, supplier_order_cancel
from suppliers.tasks import pay_supplier_order
from suppliers.templatetags.placement import FILTER_FIELDS, max_batch

# Results listed under a batch's progress (problems first).
RESULTS_SHOWN = 100
# A row's placement cell keeps watching a just-retried payment this long for the worker to start.
WATCH_SECONDS = 60
# Sent with a response after which the order center redraws its rows and counts.
ORDERS_CHANGED = "orders-changed"


class PlacementInputError(Exception):
    """What the merchant asked for cannot be placed as asked; the message says why."""


def _next_url(request: HttpRequest, data: Any) -> str:
    return safe_next_path(data.get("next")) or reverse("orders:center")


def _wanted_ids(request: HttpRequest, data: Any) -> tuple[list[int], dict[str, str]]:
    """The orders to place, from the selection (``ids``) or the whole filtered tab
    (``scope=filtered`` with the order center's filters); and those filters, to post them again."""
    account = request.account  # type: ignore[attr-defined]
    if data.get("scope") != "filtered":
        try:
            return parse_order_ids(data.getlist("ids")), {}
        except forms.ValidationError as error:
            raise PlacementInputError(" ".join(error.messages)) from None
    form = OrderCenterForm({name: data.get(name, "") for name in FILTER_FIELDS}, account=account)
    if not form.is_valid():
        raise PlacementInputError(" ".join(str(error) for errors in form.errors.values() for error in errors))
    order_filter = form.order_filter()
    if order_filter.tab != OrderStatus.NEW:
        raise PlacementInputError(_("Only orders in New can be placed."))
    stores = order_selectors.stores_for_account(account=account)
    if order_filter.store_id is not None and not stores.filter(pk=order_filter.store_id).exists():
        raise Http404(_("No such store in this account."))
    cap = max_batch()
    ids = order_selectors.order_ids_matching(account=account, order_filter=order_filter, limit=cap + 1)
    if len(ids) > cap:
        raise PlacementInputError(
            _(
                "This tab holds more than %(n)s orders: narrow it with the filters (store, dates, search) "
                "and place it in parts."
            )
            % {"n": number_format(cap, force_grouping=True)}
        )
    if not ids:
        raise PlacementInputError(_("No orders match these filters."))
    filters = {name: str(data.get(name)) for name in FILTER_FIELDS if data.get(name)}
    return ids, {"scope": "filtered", **filters}


def _toast(response: HttpResponse, message: str, *, changed: bool = False) -> HttpResponse:
    trigger_client_event(response, "toast", {"message": message})
    if changed:
        trigger_client_event(response, ORDERS_CHANGED, {})
    return response


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    """A clear message, nothing done: a toast for htmx, the error page otherwise."""
    if request.htmx:  # type: ignore[attr-defined]
        return _toast(reswap(HttpResponse(""), "none"), message)
    return render(request, "orders/bad_request.html", {"errors": [message]}, status=400)


@require_http_methods(["GET", "POST"])
@account_required
def placement_start(request: HttpRequest) -> HttpResponse:
    """GET: the confirmation page (works without JavaScript). POST: a batch, then its progress."""
    data = request.POST if request.method == "POST" else request.GET
    next_url = _next_url(request, data)
    try:
        order_ids, filters = _wanted_ids(request, data)
    except PlacementInputError as error:
        return _refused(request, str(error))
    account = request.account  # type: ignore[attr-defined]

    if request.method == "GET":
        if not filters:  # a selection: every id must be the account's
            found_count, _placeable = selectors.orders_found_and_placeable(account=account, order_ids=order_ids)
            if found_count != len(order_ids):
                raise Http404(_("Some of these orders do not exist in this account."))
        shown = order_selectors.orders_by_ids(account=account, order_ids=order_ids[:20])
        context = {
            "orders": shown,
            "count": len(order_ids),
            "more": max(0, len(order_ids) - len(shown)),
            "ids": [] if filters else order_ids,
            "filters": filters,
            "next_url": next_url,
        }
        return render(request, "suppliers/placement_confirm.html", context)

    found, placeable = selectors.orders_found_and_placeable(account=account, order_ids=order_ids)
    if not filters and found != len(order_ids):
        raise Http404(_("Some of these orders do not exist in this account."))
    nothing_to_place = _("Nothing to place: only orders in New can be placed.")
    if not placeable:
        return _refused(request, nothing_to_place)  # a second click on a placed order: no empty batch
    batch = placement_batch_create(account=account, order_ids=order_ids, actor=request.user)  # type: ignore[arg-type]
    if batch.total == 0:
        return _refused(request, nothing_to_place)
    message = ngettext(
        "Placing %(n)s order with its supplier…", "Placing %(n)s orders with their suppliers…", batch.total
    ) % {"n": batch.total}
    if request.htmx:  # type: ignore[attr-defined]
        response = render(
            request, "suppliers/placement_batch.html#batch", {"batch": batch, "results": [], "polling": True}
        )
        return _toast(response, message)
    messages.info(request, message)
    return HttpResponseRedirect(f"{reverse('placement:batch', args=[batch.public_id])}?{urlencode({'next': next_url})}")


@require_GET
@account_required
def placement_batch(request: HttpRequest, public_id: str) -> HttpResponse:
    """A batch's progress: a fragment polled every second by htmx while it runs, or a plain page
    with a refresh link. The poll that sees it finish tells the order center to redraw."""
    try:
        batch = placement_batch_of(account=request.account, public_id=public_id)  # type: ignore[attr-defined]
    except PlacementBatch.DoesNotExist:
        raise Http404(_("No such placement in this account.")) from None
    finished = batch.finished_at is not None
    results = selectors.placement_batch_results(batch=batch, limit=RESULTS_SHOWN if finished else 5)
    context = {
        "batch": batch,
        "results": results,
        "polling": not finished,
        "next_url": _next_url(request, request.GET),
    }
    if not request.htmx:  # type: ignore[attr-defined]
        return render(request, "suppliers/placement_batch.html", context)
    response = render(request, "suppliers/placement_batch.html#batch", context)
    if finished and request.GET.get("poll"):
        message = ngettext(
            "Placement finished for %(total)s order: %(succeeded)s placed, %(failed)s with a problem.",
            "Placement finished for %(total)s orders: %(succeeded)s placed, %(failed)s with a problem.",
            batch.total,
        ) % {
            "succeeded": batch.succeeded,
            "failed": batch.failed,
            "total": batch.total,
        }
        _toast(response, message, changed=True)
    return response


# Payment tab ----------------------------------------------------------------------------------


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    try:
        return selectors.order_of_account(account=request.account, order_id=order_id)  # type: ignore[attr-defined]
    except Order.DoesNotExist:
        raise Http404(_("No such order in this account.")) from None


def _done(request: HttpRequest, message: str) -> HttpResponse:
    """After an action: htmx gets a toast and the order center redraws; otherwise back, with a message."""
    if request.htmx:  # type: ignore[attr-defined]
        return _toast(reswap(HttpResponse(""), "none"), message, changed=True)
    messages.info(request, message)
    return HttpResponseRedirect(_next_url(request, request.POST))


def _unpaid_ids(order: Order) -> list[int]:
    """The order's supplier orders waiting for payment (placed, or payment failed), from the
    prefetched rows (``selectors.order_of_account``); the services re-check each under its lock."""
    return sorted(so.pk for so in order.supplier_orders.all() if so.state in PAYABLE_STATES)


def _confirm(request: HttpRequest, *, title: str, explanation: str, button: str) -> HttpResponse:
    """The page a row action's link opens without JavaScript: one button that POSTs."""
    context = {
        "title": title,
        "explanation": explanation,
        "button": button,
        "next_url": _next_url(request, request.GET),
    }
    return render(request, "suppliers/placement_action_confirm.html", context)


def _cell(request: HttpRequest, order: Order, *, watch_since: float | None) -> tuple[HttpResponse, bool]:
    """The row's placement cell; and whether it keeps polling."""
    row = placement_row(order)
    watching = watch_since is not None and time.time() - watch_since < WATCH_SECONDS
    if watching and watch_since is not None:
        # The worker has not taken the payment yet: nothing of the order moved since the click.
        moved = any(so.updated_at.timestamp() > watch_since for so in row.current)
        watching = not moved
    polling = row.in_flight or watching
    context = {"order": order, "p": row, "polling": polling, "watch_since": watch_since}
    return render(request, "suppliers/_placement_cell.html", context), polling


@require_http_methods(["GET", "POST"])
@account_required
def order_retry_payment(request: HttpRequest, order_id: int) -> HttpResponse:
    """Queue the payment of the order's unpaid supplier orders (a worker pays, under a lease)."""
    order = _order_or_404(request, order_id)
    if request.method == "GET":
        return _confirm(
            request,
            title=_("Retry the payment of order %(number)s?") % {"number": order.number},
            explanation=_("The supplier is asked to take the payment again; the order shows the outcome."),
            button=_("Retry payment"),
        )
    payable = _unpaid_ids(order)
    number = {"number": order.number}
    if not payable:
        paying = any(so.state in IN_FLIGHT_STATES for so in order.supplier_orders.all())
        message = (
            _("Order %(number)s is already being paid.") % number
            if paying
            else _("Order %(number)s has nothing waiting for payment.") % number
        )
        return _refused(request, message) if not paying else _done(request, message)
    transaction.on_commit(lambda: [pay_supplier_order.delay(pk) for pk in payable])
    message = _("Paying order %(number)s…") % number
    if request.htmx:  # type: ignore[attr-defined]
        response, _polling = _cell(request, order, watch_since=time.time())
        return _toast(response, message)
    messages.info(request, message)
    return HttpResponseRedirect(_next_url(request, request.POST))


@require_GET
@account_required
def order_placement_cell(request: HttpRequest, order_id: int) -> HttpResponse:
    """The row's placement cell, polled while a supplier call is in flight (or a retried payment
    waits for its worker). When it settles, the order center redraws (rows and counts)."""
    order = _order_or_404(request, order_id)
    try:
        since = float(request.GET["since"]) if request.GET.get("since") else None
        if since is not None and not (math.isfinite(since) and since <= time.time()):
            since = None  # a watch from the future (or infinity) would poll for ever
    except ValueError:
        since = None
    response, polling = _cell(request, order, watch_since=since)
    if request.GET.get("poll") and not polling:
        trigger_client_event(response, ORDERS_CHANGED, {})
    return response


@require_http_methods(["GET", "POST"])
@account_required
def order_cancel_supplier_orders(request: HttpRequest, order_id: int) -> HttpResponse:
    """Cancel the order's unpaid supplier orders at the supplier (where its API allows it)."""
    order = _order_or_404(request, order_id)
    if request.method == "GET":
        return _confirm(
            request,
            title=_("Cancel the supplier order of %(number)s?") % {"number": order.number},
            explanation=_(
                "Unpaid supplier orders are canceled at the supplier where its API allows it; "
                "otherwise you are told how to cancel it there."
            ),
            button=_("Cancel at the supplier"),
        )
    unpaid = _unpaid_ids(order)
    if not unpaid:
        return _refused(request, _("Only an unpaid supplier order can be canceled."))
    answers = [
        supplier_order_cancel(
            supplier_order_id=supplier_order_id,
            by=CanceledBy.MERCHANT,
            reason=_("Canceled by %(user)s") % {"user": request.user.get_username()},
            actor=request.user,  # type: ignore[arg-type]
        ).message
        for supplier_order_id in unpaid
    ]
    return _done(request, " ".join(answer for answer in answers if answer))


@require_http_methods(["GET", "POST"])
@account_required
def order_replace_view(request: HttpRequest, order_id: int) -> HttpResponse:
    """Back to New: unpaid and canceled supplier orders become history; it can be placed again."""
    order = _order_or_404(request, order_id)
    if request.method == "GET":
        return _confirm(
            request,
            title=_("Re-place order %(number)s?") % {"number": order.number},
            explanation=_(
                "The order goes back to New to be placed again under a new key; its unpaid supplier order "
                "is canceled and kept in the history."
            ),
            button=_("Re-place"),
        )
    result = order_replace(account=request.account, order_id=order.pk, actor=request.user)  # type: ignore[attr-defined,arg-type]
    return _done(request, f"{order.number}: {result.message}")
