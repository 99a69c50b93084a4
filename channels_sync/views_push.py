"""Fulfillment push-back pages: Retry of a failed push (the drawer's button, contract 3) and the
carrier mapping page (owners: the account's own carrier names, the shipping notification setting)."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts.decorators import account_required, owner_required
from accounts.navigation import redirect_to_next
from channels_sync import tasks
from channels_sync.carriers import SHOPIFY_TRACKING_COMPANIES, default_carrier_names
from channels_sync.forms import CarrierMappingForm, ShippingNotificationsForm
from channels_sync.models import CarrierMapping, FulfillmentPush
from channels_sync.services.push import PushRetryRefused, fulfillment_push_retry
from channels_sync.services.push_carriers import (
    CarrierMappingError,
    account_shipping_notifications_set,
    carrier_mapping_delete,
    carrier_mapping_save,
)
from orders.enums import Channel

CARRIERS_TEMPLATE = "channels_sync/carrier_mappings.html"
ORDERS_CHANGED = "orders-changed"  # the order center's lists and drawer refresh on it

logger = logging.getLogger(__name__)


def _enqueue_run(push_id: int) -> None:
    """After commit; with the broker away the push stays PENDING and beat's sweep runs it."""
    try:
        tasks.fulfillment_push_run.delay(push_id)
    except KombuOperationalError:
        logger.warning("broker unavailable: fulfillment push %s waits for the sweep", push_id)


@require_POST
@account_required
def fulfillment_push_retry_view(request: HttpRequest, push_id: int) -> HttpResponse:
    """Retry a failed push (owners and staff of the push's account; another account's id: 404)."""
    account = request.account  # type: ignore[attr-defined]
    try:
        push = fulfillment_push_retry(account=account, push_id=push_id, actor=request.user)  # type: ignore[arg-type]
    except FulfillmentPush.DoesNotExist:
        raise Http404(_("No such push in this account.")) from None
    except PushRetryRefused as refused:
        message, ok = str(refused), False
    else:
        transaction.on_commit(lambda: _enqueue_run(push.pk))
        message, ok = _("The fulfillment of %(number)s is being sent again.") % {"number": push.tracking_number}, True
    if request.htmx:  # type: ignore[attr-defined]
        response = trigger_client_event(HttpResponse(status=204), "toast", {"message": message})
        return trigger_client_event(response, ORDERS_CHANGED, {}) if ok else response
    (messages.success if ok else messages.error)(request, message)
    return redirect_to_next(request.POST.get("next"), default=reverse("orders:center"))


def _defaults() -> list[dict[str, object]]:
    """What every account gets: canonical name and the supplier names read as it."""
    return [
        {"name": name, "aliases": ", ".join(names), "shopify_linked": name in SHOPIFY_TRACKING_COMPANIES}
        for name, names in default_carrier_names().items()
    ]


def _render(
    request: HttpRequest,
    *,
    add_form: CarrierMappingForm | None = None,
    edit_forms: dict[int, CarrierMappingForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    edit_forms = edit_forms or {}
    mappings = list(CarrierMapping.objects.filter(account=account).order_by("channel", "supplier_carrier", "pk"))
    rows = [
        {
            "mapping": mapping,
            "form": edit_forms.get(mapping.pk)
            or CarrierMappingForm(
                prefix=f"m{mapping.pk}",
                initial={
                    "channel": mapping.channel,
                    "supplier_carrier": mapping.supplier_carrier,
                    "channel_carrier": mapping.channel_carrier,
                },
            ),
        }
        for mapping in mappings
    ]
    context = {
        "rows": rows,
        "add_form": add_form or CarrierMappingForm(prefix="new"),
        "notify_form": ShippingNotificationsForm(
            initial={"notify_customer_on_fulfillment": account.notify_customer_on_fulfillment}
        ),
        "defaults": _defaults(),
        "shopify_companies": sorted(SHOPIFY_TRACKING_COMPANIES, key=str.casefold),
        "channels": Channel.choices,
    }
    return render(request, CARRIERS_TEMPLATE, context, status=status)


@require_GET
@owner_required
def carrier_mappings(request: HttpRequest) -> HttpResponse:
    return _render(request)


def _saved(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("channels_sync:carrier_mappings")


@require_POST
@owner_required
def carrier_mapping_add(request: HttpRequest) -> HttpResponse:
    form = CarrierMappingForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            mapping = carrier_mapping_save(account=request.account, **form.cleaned_data)  # type: ignore[attr-defined]
        except CarrierMappingError as error:
            form.add_error("supplier_carrier", str(error))
        else:
            return _saved(request, _("“%(name)s” is mapped now.") % {"name": mapping.supplier_carrier})
    return _render(request, add_form=form, status=422)


@require_POST
@owner_required
def carrier_mapping_edit(request: HttpRequest, mapping_id: int) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    if not CarrierMapping.objects.filter(account=account, pk=mapping_id).exists():
        raise Http404(_("No such carrier mapping in this account."))
    form = CarrierMappingForm(request.POST, prefix=f"m{mapping_id}")
    if form.is_valid():
        try:
            mapping = carrier_mapping_save(account=account, mapping_id=mapping_id, **form.cleaned_data)
        except CarrierMappingError as error:
            form.add_error("supplier_carrier", str(error))
        except CarrierMapping.DoesNotExist:
            raise Http404(_("No such carrier mapping in this account.")) from None
        else:
            return _saved(request, _("“%(name)s” is saved.") % {"name": mapping.supplier_carrier})
    return _render(request, edit_forms={mapping_id: form}, status=422)


@require_POST
@owner_required
def carrier_mapping_delete_view(request: HttpRequest, mapping_id: int) -> HttpResponse:
    try:
        mapping = carrier_mapping_delete(account=request.account, mapping_id=mapping_id)  # type: ignore[attr-defined]
    except CarrierMapping.DoesNotExist:
        raise Http404(_("No such carrier mapping in this account.")) from None
    return _saved(request, _("“%(name)s” is no longer mapped.") % {"name": mapping.supplier_carrier})


@require_POST
@owner_required
def shipping_notifications(request: HttpRequest) -> HttpResponse:
    form = ShippingNotificationsForm(request.POST)
    form.is_valid()  # a checkbox: absent is off
    notify = bool(form.cleaned_data.get("notify_customer_on_fulfillment"))
    account_shipping_notifications_set(account=request.account, notify=notify)  # type: ignore[attr-defined]
    if notify:
        return _saved(request, _("The channel e-mails the customer when a parcel is fulfilled."))
    return _saved(request, _("The channel no longer e-mails the customer when a parcel is fulfilled."))
