"""The stores page (connect, health, pause/resume/disconnect, resync) and the webhook endpoint."""

from __future__ import annotations

import logging
import uuid
from functools import partial

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts.decorators import account_required, owner_required
from accounts.navigation import redirect_to_next
from channels_sync import selectors, tasks
from channels_sync.forms import APP_CONNECT_FORMS, CONNECT_FORMS, ConnectForm, app_form_prefix, update_form_for
from channels_sync.models import Store
from channels_sync.services import (
    ConnectError,
    store_connect_start,
    store_discard,
    store_disconnect,
    store_pull_enqueue,
    store_set_paused,
    webhook_receive,
    webhook_url_for,
)
from channels_sync.services.compliance import MAX_BODY as COMPLIANCE_MAX_BODY
from channels_sync.services.compliance import compliance_receive
from channels_sync.services.webhook_address import AddressRotationError, store_webhook_address_rotate
from orders import selectors as order_selectors
from orders.enums import Channel

STORES_TEMPLATE = "channels_sync/stores.html"

logger = logging.getLogger(__name__)


@csrf_exempt  # channels sign their webhooks; there is no session to protect
@require_POST
def webhook(request: HttpRequest, channel: str, public_id: uuid.UUID) -> HttpResponse:
    receipt = webhook_receive(channel=channel, public_id=public_id, headers=request.headers, body=request.body)
    if receipt.enqueue and receipt.delivery_id is not None:
        transaction.on_commit(partial(_enqueue_delivery, receipt.delivery_id))
    response = HttpResponse(status=receipt.status)
    if receipt.retry_after is not None:
        response["Retry-After"] = str(receipt.retry_after)
    return response


@csrf_exempt  # Shopify signs these with the app's client secret; there is no session to protect
@require_POST
def compliance_webhook(request: HttpRequest) -> HttpResponse:
    """Shopify's mandatory compliance webhooks (one address for the app): stored, processed by a task."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > COMPLIANCE_MAX_BODY:  # refused before the body is read
        return HttpResponse(f"body larger than {COMPLIANCE_MAX_BODY} bytes", status=400, content_type="text/plain")
    receipt = compliance_receive(headers=request.headers, body=request.body)
    if receipt.request_id is not None:
        transaction.on_commit(partial(_enqueue_compliance, receipt.request_id))
    return HttpResponse(receipt.message, status=receipt.status, content_type="text/plain; charset=utf-8")


def _enqueue_compliance(request_id: int) -> None:
    """Stored: with the broker away, answer 200 anyway; beat's sweep queues it later."""
    try:
        tasks.process_compliance_request.delay(request_id)
    except KombuOperationalError:
        logger.warning("broker unavailable: compliance request %s stored, queued later by beat", request_id)


def _enqueue_delivery(delivery_id: int) -> None:
    """The delivery is stored: with the broker away, answer 200 anyway (a 5xx would only make
    the channel resend what we have, and count failures against the subscription); beat's
    ``requeue_stuck_deliveries`` queues it once the broker is back."""
    try:
        tasks.process_webhook_delivery.delay(delivery_id)
    except KombuOperationalError:
        logger.warning("broker unavailable: webhook delivery %s stored, queued later by beat", delivery_id)


def _render_stores(
    request: HttpRequest,
    *,
    forms: dict[str, ConnectForm] | None = None,
    update_forms: dict[int, ConnectForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    forms, update_forms = forms or {}, update_forms or {}
    stores = list(selectors.stores_with_health(account=account))
    connect_forms = [
        {
            "channel": channel,
            "label": Channel(channel).label,
            "form": forms.get(channel) or form_class(prefix=channel),
            "app_form": _app_form(channel, forms),  # the approval-page path, where the channel has one
        }
        for channel, form_class in CONNECT_FORMS.items()
    ]
    now = timezone.now()
    rows = [
        {
            "store": store,
            "webhook_url": webhook_url_for(channel=store.channel, public_id=store.public_id),
            "pull_state": store.pull_state(now),
            "connect_state": store.connect_state(now),
            "update_form": update_forms.get(store.pk) or update_form_for(store),
        }
        for store in stores
    ]
    htmx = request.htmx  # type: ignore[attr-defined]
    # The table polls itself while a connect is checked or a pull is queued or running (the
    # connect forms are left alone).
    part = "store_table" if htmx and htmx.target == "store-table" else "stores"
    template = f"{STORES_TEMPLATE}#{part}" if htmx else STORES_TEMPLATE
    busy = any(row["pull_state"] or row["connect_state"] == "connecting" for row in rows)
    context = {"rows": rows, "connect_forms": connect_forms, "syncing": busy}
    response = render(request, template, context, status=status)
    response["Vary"] = "HX-Request"
    return response


def _app_form(channel: str, forms: dict[str, ConnectForm]) -> ConnectForm | None:
    prefix = app_form_prefix(channel)
    form_class = APP_CONNECT_FORMS.get(channel)
    return forms.get(prefix) or (form_class(prefix=prefix) if form_class else None)


@require_GET
@owner_required
def stores(request: HttpRequest) -> HttpResponse:
    return _render_stores(request)


def _done(request: HttpRequest, message: str) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return trigger_client_event(_render_stores(request), "toast", {"message": message})
    messages.success(request, message)
    return redirect("channels_sync:stores")


@require_POST
@owner_required
def store_connect_view(request: HttpRequest, channel: str) -> HttpResponse:
    form_class = CONNECT_FORMS.get(channel)
    if form_class is None:
        raise Http404(_("No such channel."))
    form = form_class(request.POST, prefix=channel)
    if form.is_valid():
        try:
            start = store_connect_start(account=request.account, **form.connect_kwargs())  # type: ignore[attr-defined]
        except ConnectError as error:
            form.add_error(None, str(error))
        else:
            # The channel is called by the connect task; the row says "Connecting…" until it is done.
            return _done(request, _("Connecting %(name)s: checking it with the channel…") % {"name": start.store.name})
    # 422: the form comes back with its errors; htmx swaps it in (base.html's responseHandling).
    return _render_stores(request, forms={channel: form}, status=422)


@require_POST
@owner_required
def store_credentials_update(request: HttpRequest, store_id: int) -> HttpResponse:
    """New credentials for a store (same shop, same row, same orders), checked by the connect task."""
    store = _store_of(request, store_id)
    form = update_form_for(store, data=request.POST)
    if form.is_valid():
        try:
            store_connect_start(account=store.account, **form.connect_kwargs())
        except ConnectError as error:
            form.add_error(None, str(error))
        else:
            return _store_done(request, store, _("Checking the new credentials of %(name)s with %(channel)s…"))
    return _render_stores(request, update_forms={store.pk: form}, status=422)


@require_POST
@owner_required
def store_discard_view(request: HttpRequest, store_id: int) -> HttpResponse:
    """Remove a store whose first connect failed."""
    store = _store_of(request, store_id)
    store_discard(account=store.account, store_id=store.pk)
    return _store_done(request, store, _("%(name)s is removed."))


def _store_of(request: HttpRequest, store_id: int) -> Store:
    try:
        return selectors.store_get(account=request.account, store_id=store_id)  # type: ignore[attr-defined]
    except Store.DoesNotExist:
        raise Http404(_("No such store in this account.")) from None


def _store_done(request: HttpRequest, store: Store, message: str) -> HttpResponse:
    return _done(request, message % {"name": store.name, "channel": store.get_channel_display()})


@require_POST
@owner_required
def store_pause(request: HttpRequest, store_id: int) -> HttpResponse:
    store = _store_of(request, store_id)
    store_set_paused(account=store.account, store_id=store.pk, paused=True)
    return _store_done(request, store, _("%(name)s is paused."))


@require_POST
@owner_required
def store_resume(request: HttpRequest, store_id: int) -> HttpResponse:
    store = _store_of(request, store_id)
    store_set_paused(account=store.account, store_id=store.pk, paused=False)
    store_pull_enqueue(store_id=store.pk)
    return _store_done(request, store, _("%(name)s is syncing again."))


@require_POST
@owner_required
def store_disconnect_view(request: HttpRequest, store_id: int) -> HttpResponse:
    store = _store_of(request, store_id)
    removed = store_disconnect(account=store.account, store_id=store.pk).webhooks_removed
    message = _("%(name)s is disconnected. Its orders stay in the order center.")
    if removed is None:
        message += " " + _("Remove its webhooks in the %(channel)s admin: they could not be removed from here.")
    elif removed:
        message += " " + _("Its webhooks were removed from %(channel)s.")
    return _store_done(request, store, message)


@require_POST
@owner_required
def store_webhook_rotate(request: HttpRequest, store_id: int) -> HttpResponse:
    """A new webhook address for the store; the old one is refused from now on."""
    store = _store_of(request, store_id)
    try:
        result = store_webhook_address_rotate(account=store.account, store_id=store.pk)
    except AddressRotationError as error:
        if request.htmx:  # type: ignore[attr-defined]
            return trigger_client_event(_render_stores(request), "toast", {"message": str(error)})
        messages.error(request, str(error))
        return redirect("channels_sync:stores")
    if not result.subscribed:
        message = _("%(name)s has a new webhook address: set it in the %(channel)s dashboard. The old one is refused.")
    elif result.old_removed is None:
        message = _(
            "%(name)s has a new webhook address and %(channel)s delivers to it. Remove the old subscriptions in "
            "the %(channel)s admin: they could not be removed from here (the old address is refused)."
        )
    else:
        message = _("%(name)s has a new webhook address; its %(channel)s subscriptions were moved to it.")
    return _store_done(request, store, message)


@require_POST
@owner_required
def store_resync(request: HttpRequest, store_id: int) -> HttpResponse:
    store = _store_of(request, store_id)
    store_pull_enqueue(store_id=store.pk)
    return _store_done(request, store, _("A sync of %(name)s has started."))


@require_POST
@account_required
def order_resync(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order center's "Resync": fetch this one order from its channel again."""
    orders = order_selectors.orders_by_ids(account=request.account, order_ids=[order_id])  # type: ignore[attr-defined]
    if not orders:
        raise Http404(_("No such order in this account."))
    order = orders[0]
    transaction.on_commit(lambda: tasks.resync_order.delay(order.pk))
    message = _("Order %(number)s will be fetched from the channel again.") % {"number": order.number}
    if request.htmx:  # type: ignore[attr-defined]
        return trigger_client_event(HttpResponse(status=204), "toast", {"message": message})
    messages.success(request, message)
    return redirect_to_next(request.POST.get("next"), default=reverse("orders:detail", args=[order.pk]))
