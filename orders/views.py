"""The order center. One view per page; htmx requests get only the fragment they swap."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget, trigger_client_event

from accounts.decorators import account_required
from accounts.navigation import redirect_to_next, safe_next_path
from orders import selectors
from orders.enums import ARCHIVE_TAB, SUB_STATUSES_BY_STATUS, Channel, OrderStatus, RefundOverdue, SubStatus
from orders.forms import TAB_CHOICES, AddressForm, OrderCenterForm, encode_cursor, parse_order_ids
from orders.models import Order
from orders.presentation import order_timeline, order_view_url
from orders.presentation_parcels import order_parcels, parcel_summary, stalled_label
from orders.services import (
    AddressLocked,
    OrdersNotFound,
    order_address_locked,
    order_confirm_duplicate,
    order_edit_address,
    orders_set_archived,
)

CENTER_TEMPLATE = "orders/order_center.html"
# Labels by value, built once: ``get_FOO_display()`` rebuilds the choices dict and translates
# every choice on each call, a fifth of the time of rendering a page of 50 orders.
CHANNEL_LABELS = dict(Channel.choices)
STATUS_LABELS = dict(OrderStatus.choices)
SUB_STATUS_LABELS = dict(SubStatus.choices)
REFUND_OVERDUE_LABELS = dict(RefundOverdue.choices)


def _bad_request(request: HttpRequest, errors: list[str]) -> HttpResponse:
    return render(request, "orders/bad_request.html", {"errors": errors}, status=400)


def _center_url(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    query = urlencode({key: value for key, value in merged.items() if value not in (None, "")})
    return f"{reverse('orders:center')}?{query}" if query else reverse("orders:center")


def _row(order: Order) -> dict[str, Any]:
    """What one row shows, with its translated phrases made here: a ``{% blocktranslate %}`` per
    row and phrase cost a tenth of the page's rendering."""
    number = {"number": order.number}
    lines = list(order.lines.all())  # prefetched
    if order.archived:
        confirm = _("Restore order %(number)s?") % number
    elif order.awaiting_duplicate_confirmation:
        confirm = _("Archive order %(number)s? It is the same purchase as another order.") % number
    else:
        confirm = _("Archive order %(number)s? It leaves every tab until restored.") % number
    more = len(lines) - 1
    return {
        "order": order,
        "detail_url": reverse("orders:detail", args=[order.pk]),
        "view_url": order_view_url(order),
        "channel_label": CHANNEL_LABELS[order.channel],
        "status_label": SUB_STATUS_LABELS[order.sub_status] if order.sub_status else STATUS_LABELS[order.status],
        "select_label": _("Select order %(number)s") % number,
        "first_line": _("%(title)s × %(quantity)s") % {"title": lines[0].title, "quantity": lines[0].quantity}
        if lines
        else "",
        "more_lines": ngettext("+%(n)s more item", "+%(n)s more items", more) % {"n": more} if more > 0 else "",
        "confirm": confirm,
        "parcel": parcel_summary(order),  # prefetched: no query per row
        "stalled_label": stalled_label(order),
        "overdue_label": REFUND_OVERDUE_LABELS.get(order.refund_overdue, "") if order.refund_overdue else "",
    }


def _render_center(request: HttpRequest, query: QueryDict, *, fragment: str | None) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    form = OrderCenterForm(query, account=account)
    if not form.is_valid():
        return _bad_request(request, [str(error) for errors in form.errors.values() for error in errors])
    order_filter = form.order_filter()
    stores = list(selectors.stores_for_account(account=account))
    if order_filter.store_id is not None and order_filter.store_id not in {store.pk for store in stores}:
        raise Http404(_("No such store in this account."))

    counts = selectors.order_tab_counts(account=account, store_id=order_filter.store_id)
    rows, next_cursor = selectors.order_center_page(
        account=account,
        order_filter=order_filter,
        cursor=form.cleaned_data["cursor"],
        page_size=settings.ORDER_CENTER_PAGE_SIZE,
    )
    # Everything but the tab and pill: kept when switching tabs.
    base_params = {
        "store": order_filter.store_id,
        "q": order_filter.q,
        "date_from": order_filter.date_from.isoformat() if order_filter.date_from else None,
        "date_to": order_filter.date_to.isoformat() if order_filter.date_to else None,
        "stalled": "1" if order_filter.stalled else None,
        "overdue": "1" if order_filter.overdue else None,
    }
    stalled_counts = selectors.order_stalled_counts(account=account, store_id=order_filter.store_id)
    # The Refund tab's "Overdue" filter (and any tab it is turned on in): one COUNT, else none.
    overdue_shown = order_filter.tab == OrderStatus.REFUND or order_filter.overdue
    overdue_counts = (
        selectors.order_refund_overdue_counts(account=account, store_id=order_filter.store_id) if overdue_shown else {}
    )
    current_params = {**base_params, "status": order_filter.tab, "sub_status": order_filter.sub_status}
    tabs = [
        {
            "value": value,
            "label": label,
            "count": counts.tabs[value],
            "url": _center_url(base_params, status=value),
            "active": value == order_filter.tab,
        }
        for value, label in TAB_CHOICES
    ]
    pills = []
    if order_filter.tab != ARCHIVE_TAB:
        for sub in SUB_STATUSES_BY_STATUS[OrderStatus(order_filter.tab)]:
            pills.append(
                {
                    "value": sub.value,
                    "label": sub.label,
                    "count": counts.sub_statuses.get((order_filter.tab, sub.value), 0),
                    "url": _center_url(base_params, status=order_filter.tab, sub_status=sub.value),
                    "active": sub.value == order_filter.sub_status,
                }
            )
    context = {
        "order_filter": order_filter,
        "tabs": tabs,
        "pills": pills,
        "all_pill_url": _center_url(base_params, status=order_filter.tab),
        "rows": [_row(order) for order in rows],
        "stores": stores,
        "current_url": _center_url(current_params),
        "next_url": _center_url(current_params, cursor=encode_cursor(next_cursor)) if next_cursor else None,
        "first_url": _center_url(current_params) if form.cleaned_data["cursor"] else None,
        "is_archive": order_filter.tab == ARCHIVE_TAB,
        "tab_label": dict(TAB_CHOICES)[order_filter.tab],
        "tabs_url": _center_url(current_params, fragment="tabs"),
        "sub_status_label": SubStatus(order_filter.sub_status).label if order_filter.sub_status else "",
        "stalled_filter": {
            "count": stalled_counts[order_filter.tab],
            "active": order_filter.stalled,
            # The same tab and pill, with the filter turned the other way (and back to the first page).
            "url": _center_url(current_params, stalled=None if order_filter.stalled else "1"),
        },
        "overdue_filter": {
            "shown": overdue_shown,
            # what the filter will list: the tab, or the tab's chosen pill
            "count": overdue_counts.get(
                f"{order_filter.tab}/{order_filter.sub_status}" if order_filter.sub_status else order_filter.tab, 0
            ),
            "active": order_filter.overdue,
            "url": _center_url(current_params, overdue=None if order_filter.overdue else "1"),
        },
    }
    template = f"{CENTER_TEMPLATE}#{fragment}" if fragment else CENTER_TEMPLATE
    return render(request, template, context)


@require_GET
@account_required
def order_center(request: HttpRequest) -> HttpResponse:
    fragment = None
    # Back past htmx's history cache asks for the whole page, not a fragment.
    if request.htmx and not request.htmx.history_restore_request:  # type: ignore[attr-defined]
        fragment = "tabs" if request.GET.get("fragment") == "tabs" else "center"
    response = _render_center(request, request.GET, fragment=fragment)
    response["Vary"] = "HX-Request"
    return response


def _not_found(wanted: list[int]) -> Http404:
    """What a view answers when an id is not an order of the account (``OrdersNotFound``)."""
    if len(wanted) == 1:
        return Http404(_("No such order in this account."))
    return Http404(_("Some of these orders do not exist in this account."))


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    try:
        return selectors.order_get(account=request.account, order_id=order_id)  # type: ignore[attr-defined]
    except OrdersNotFound:
        raise _not_found([order_id]) from None


def drawer_context(order: Order) -> dict[str, Any]:
    """What the drawer template shows of ``order`` (loaded by ``selectors.order_get``); other apps'
    views that answer with the drawer use it."""
    return _drawer_context(order)


def _drawer_context(order: Order) -> dict[str, Any]:
    parcels, other_pushes = order_parcels(order)
    return {
        "order": order,
        "timeline": order_timeline(order),
        "view_url": order_view_url(order),
        "parcels": parcels,
        "other_pushes": other_pushes,
        "stalled_label": stalled_label(order),
    }


@require_GET
@account_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    context = {
        **_drawer_context(order),
        "back_url": safe_next_path(request.GET.get("next")) or reverse("orders:center"),
    }
    template = "orders/order_detail.html#drawer" if request.htmx else "orders/order_detail.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@account_required
def orders_bulk_archive(request: HttpRequest, archived: bool) -> HttpResponse:
    """GET: a confirmation page (works without JavaScript). POST: archive or restore, then back."""
    data = request.POST if request.method == "POST" else request.GET
    try:
        order_ids = parse_order_ids(data.getlist("ids"))
    except forms.ValidationError as error:
        return _bad_request(request, list(error.messages))
    next_url = safe_next_path(data.get("next")) or reverse("orders:center")

    if request.method == "GET":
        orders = selectors.orders_by_ids(account=request.account, order_ids=order_ids)  # type: ignore[attr-defined]
        if len(orders) != len(order_ids):
            raise _not_found(order_ids)
        return render(
            request,
            "orders/confirm_bulk.html",
            {"orders": orders, "archived": archived, "next_url": next_url},
        )

    try:
        changed = orders_set_archived(
            account=request.account,  # type: ignore[attr-defined]
            order_ids=order_ids,
            archived=archived,
            actor=request.user,  # type: ignore[arg-type]
        )
    except OrdersNotFound:
        raise _not_found(order_ids) from None
    if archived:
        message = ngettext("%(n)s order archived.", "%(n)s orders archived.", changed) % {"n": changed}
    else:
        message = ngettext("%(n)s order restored.", "%(n)s orders restored.", changed) % {"n": changed}

    if request.htmx:  # type: ignore[attr-defined]
        query = QueryDict(urlsplit(next_url).query)
        response = _render_center(request, query, fragment="center")
        return trigger_client_event(response, "toast", {"message": message})
    messages.success(request, message)
    return HttpResponseRedirect(next_url)


@require_http_methods(["POST"])
@account_required
def order_confirm_duplicate_view(request: HttpRequest, order_id: int) -> HttpResponse:
    """The merchant says a "possible duplicate" is a separate order: it may be placed."""
    try:
        order = order_confirm_duplicate(
            account=request.account,  # type: ignore[attr-defined]
            order_id=order_id,
            actor=request.user,  # type: ignore[arg-type]
        )
    except OrdersNotFound:
        raise _not_found([order_id]) from None
    message = _("Order %(number)s is confirmed as a separate order.") % {"number": order.number}
    if request.htmx:  # type: ignore[attr-defined]
        order = _order_or_404(request, order.pk)
        response = render(request, "orders/order_detail.html#drawer", _drawer_context(order))
        return trigger_client_event(response, "toast", {"message": message})
    messages.success(request, message)
    return redirect_to_next(request.POST.get("next"), default=reverse("orders:detail", args=[order.pk]))


ADDRESS_TEMPLATE = "orders/address_form.html"


@require_http_methods(["GET", "POST"])
@account_required
def order_address_edit(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order's shipping address, corrected by the merchant (any member: staff work orders).

    GET: the form (in the drawer for htmx, else a page). POST: saved when complete for its
    country, then the drawer (htmx) or the order's page; else the form again with each problem
    on its field (422, which htmx swaps). Once a supplier has the address it is not editable (422).
    """
    order = _order_or_404(request, order_id)
    in_drawer = bool(request.htmx)  # type: ignore[attr-defined]
    template = f"{ADDRESS_TEMPLATE}#form" if in_drawer else ADDRESS_TEMPLATE
    context: dict[str, Any] = {"order": order, "in_drawer": in_drawer, "locked": order_address_locked(order=order)}
    if request.method == "GET":
        context["form"] = AddressForm(initial=AddressForm.initial_for(order))
        return render(request, template, context)
    form = AddressForm(request.POST)
    context["form"] = form
    if context["locked"] or not form.is_valid():
        return render(request, template, context, status=422)
    try:
        order_edit_address(
            account=request.account,  # type: ignore[attr-defined]
            order_id=order.pk,
            address=form.address(),
            actor=request.user,  # type: ignore[arg-type]
        )
    except OrdersNotFound:
        raise _not_found([order_id]) from None
    except AddressLocked:
        context["locked"] = True
        return render(request, template, context, status=422)
    message = _("The address of order %(number)s is saved.") % {"number": order.number}
    detail_path = reverse("orders:detail", args=[order.pk])
    if in_drawer and urlsplit(request.htmx.current_url_abs_path or "").path == detail_path:  # type: ignore[attr-defined]
        messages.success(request, message)  # the order's own page: shown again, with the message
        return HttpResponseClientRefresh()
    if in_drawer:
        order = _order_or_404(request, order.pk)
        response = render(request, "orders/order_detail.html#drawer", _drawer_context(order))
        return trigger_client_event(reswap(retarget(response, "#drawer"), "innerHTML"), "toast", {"message": message})
    messages.success(request, message)
    return HttpResponseRedirect(reverse("orders:detail", args=[order.pk]))
