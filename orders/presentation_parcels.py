"""What the order center shows of an order's parcels: the row's latest parcel, the drawer's timelines,
the fulfillment pushes, and the "stalled" warning.

``orders`` imports no other app of ours, so the parcels are read through the reverse relations
(``order.shipments``, its own parcels; ``order.shared_shipments``, the parcels whose number the
supplier gave for this order too) and the pushes through ``order.fulfillment_pushes``, all from
rows the selectors prefetched: nothing here runs a query. The stored values of other apps' choices
(``tracking.enums.StalledReason``, the push error codes of ``channels_sync``) are compared as the
raw strings they are stored as, with our own translated words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_timedelta
from django.utils import timezone
from django.utils.translation import get_language, ngettext, to_locale
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from integrations.carrier_links import tracking_link
from orders.enums import SubStatus
from orders.models import Order

# ``Order.stalled`` (written by tracking's daily job, ``tracking.enums.StalledReason``).
STALLED_LABELS = {
    "no_tracking": _lazy("No tracking number since payment"),
    "no_event": _lazy("No tracking update in transit"),
}
SUB_STATUS_LABELS = dict(SubStatus.choices)

# A failed push's ``error_code`` (``channels_sync`` ``PushRefused.code``) → what the merchant can do.
_PUSH_ADVICE = {
    "unknown_carrier": _lazy(
        "The channel does not know this carrier. Map the supplier's carrier name to one the channel "
        "knows (carrier mappings), then retry the push."
    ),
    "order_cancelled": _lazy(
        "The order is canceled in the channel, so nothing was sent. Check with the customer whether "
        "the parcel should be stopped."
    ),
    "order_not_found": _lazy(
        "The channel no longer has this order (deleted, or the store was reconnected to another "
        "shop). Check the order in the channel."
    ),
    "unknown_line": _lazy(
        "An item of the parcel is not on the channel's order any more (edited in the channel). "
        "Resync the order, then retry the push, or fulfill it in the channel by hand."
    ),
}
_PUSH_ADVICE_DEFAULT = _lazy(
    "Fix what the channel says (in the channel or in the store's connection), then retry the push, or "
    "fulfill the order in the channel by hand."
)

# Registration states (``tracking.enums.RegistrationState``) shown on a parcel: all but "registered".
_REGISTERED = "registered"


def stalled_label(order: Order) -> str:
    """Why the order is flagged as stalled, in words; "" when it is not."""
    if not order.stalled:
        return ""
    return str(STALLED_LABELS.get(order.stalled, _("The parcel does not move")))


def _parcels_of(order: Order) -> list[Any]:
    """The order's parcels (``tracking.Shipment`` rows, prefetched): its own, then the ones it shares;
    only the order's account's (the selectors filter so too: a wrong link never shows)."""
    own = [shipment for shipment in order.shipments.all() if shipment.account_id == order.account_id]
    seen = {shipment.pk for shipment in own}
    shared = [link.shipment for link in order.shared_shipments.all() if link.shipment.account_id == order.account_id]
    return own + [shipment for shipment in shared if shipment.pk not in seen]


def _latest_first_key(shipment: Any) -> tuple[datetime, int]:
    return (shipment.last_event_at or shipment.created_at, shipment.pk)


def _carrier_of(shipment: Any) -> str:
    """The tracking provider's name for the carrier, else the supplier's."""
    return str(shipment.carrier_name or shipment.carrier or "")


def _link_of(shipment: Any) -> str:
    return tracking_link(
        shipment.tracking_number,
        carriers=(shipment.carrier_name, shipment.carrier),
        carrier_code=shipment.carrier_code,
    )


def ago(at: datetime | None) -> str:
    """ "3 hours ago" in the active language, one unit (the row has no room for more), from CLDR
    (Babel): each language's own word order and case ("vor 3 Tagen", "il y a 3 jours", "3天前"),
    which a "%(time)s ago" around Django's timesince cannot give. Under a minute, or a time a
    clock ahead of ours gave, reads "1 minute ago"."""
    if at is None:
        return ""
    elapsed = max(timezone.now() - at, timedelta(minutes=1))
    try:
        locale = Locale.parse(to_locale(get_language() or "en"))
    except (UnknownLocaleError, ValueError):
        locale = Locale("en")
    return format_timedelta(-elapsed, granularity="minute", add_direction=True, locale=locale)


@dataclass(frozen=True)
class ParcelSummary:
    """What a row shows of its parcels: the latest one and how many more."""

    carrier: str
    number: str
    url: str
    event: str  # the latest scan's description ("" before the first scan)
    location: str
    at: datetime | None
    ago: str
    more: int
    more_label: str  # "+2", shown
    more_text: str  # "2 more parcels", read out


def parcel_summary(order: Order) -> ParcelSummary | None:
    """The row's parcel column: the parcel with the latest news, "+N" for the others; None without."""
    parcels = _parcels_of(order)
    if not parcels:
        return None
    latest = max(parcels, key=_latest_first_key)
    more = len(parcels) - 1
    return ParcelSummary(
        carrier=_carrier_of(latest),
        number=latest.tracking_number,
        url=_link_of(latest),
        event=latest.last_event_description,
        location=latest.last_event_location,
        at=latest.last_event_at,
        ago=ago(latest.last_event_at),
        more=more,
        more_label=_("+%(n)s") % {"n": more} if more else "",
        more_text=ngettext("%(n)s more parcel", "%(n)s more parcels", more) % {"n": more} if more else "",
    )


@dataclass(frozen=True)
class ParcelEvent:
    at: datetime
    description: str
    location: str
    provider_status: str  # the provider's sub-status of the scan, as received


@dataclass(frozen=True)
class PushView:
    """One fulfillment push of a parcel to the order's channel (``channels_sync.FulfillmentPush``)."""

    pk: int
    order_id: int
    tracking_number: str
    state: str
    state_label: str
    channel: str
    carrier_sent: str
    at: datetime | None  # pushed, or last tried
    next_attempt_at: datetime | None
    error: str
    error_code: str
    advice: str

    @property
    def failed(self) -> bool:
        return self.state == "failed"


@dataclass(frozen=True)
class ParcelView:
    """One parcel in the drawer: its carrier, status (ours and the provider's) and timeline."""

    pk: int
    number: str
    carrier: str
    url: str
    sub_status_label: str
    tracking_status_label: str
    provider_status: str  # "InTransit · InTransit_Arrival", as received
    registration_label: str  # "" once registered with the tracking provider
    registration_error: str
    events: list[ParcelEvent]  # newest first, at most ``orders.selectors.DRAWER_EVENTS``
    earlier_events: int  # scans left out (older than the ones shown)
    earlier_label: str  # "12 earlier scans not shown", "" when none
    shared_with: list[str]  # the other orders' numbers the supplier gave this number to
    shared: bool
    shared_warning: str
    pushes: list[PushView]


def _other_orders(order: Order, shipment: Any) -> list[str]:
    """The numbers of the account's other orders that carry this parcel's number."""
    others = [shipment.order] + [link.order for link in shipment.other_orders.all()]
    numbers: dict[str, None] = {}
    for other in others:
        if other.pk != order.pk and other.account_id == order.account_id:  # never another tenant's
            numbers[other.number] = None
    return list(numbers)


def _shared_warning(shared_with: list[str]) -> str:
    if not shared_with:
        return _("The supplier gave this tracking number to another order too.")
    return ngettext(
        "The supplier gave this tracking number to order %(numbers)s too.",
        "The supplier gave this tracking number to orders %(numbers)s too.",
        len(shared_with),
    ) % {"numbers": ", ".join(shared_with)}


def push_view(order: Order, push: Any) -> PushView:
    failed = push.state == "failed"
    advice = ""
    if failed:
        advice = str(_PUSH_ADVICE.get(push.error_code, _PUSH_ADVICE_DEFAULT))
    return PushView(
        pk=push.pk,
        order_id=order.pk,
        tracking_number=push.tracking_number,
        state=push.state,
        state_label=str(push.get_state_display()),
        channel=str(order.get_channel_display()),
        carrier_sent=push.carrier_sent,
        at=push.pushed_at or (push.updated_at if push.attempts else None),
        next_attempt_at=push.next_attempt_at if push.state == "retrying" else None,
        error=push.last_error if push.state in ("failed", "retrying") else "",
        error_code=push.error_code if failed else "",
        advice=advice,
    )


def _events_of(shipment: Any) -> tuple[list[ParcelEvent], int]:
    """The prefetched scans, newest first, and how many older ones the prefetch left out (each
    prefetched scan carries its parcel's ``scans_total``)."""
    scans = sorted(shipment.events.all(), key=lambda scan: (scan.occurred_at, scan.pk), reverse=True)
    total = max((getattr(scan, "scans_total", 0) for scan in scans), default=0)
    events = [
        ParcelEvent(
            at=scan.occurred_at,
            description=scan.description,
            location=scan.location,
            # A scan from the supplier's own tracking (the fallback while the provider has nothing)
            # says so where the provider's sub-status would be.
            provider_status=_("from the supplier") if scan.source == "supplier" else scan.provider_sub_status,
        )
        for scan in scans
    ]
    return events, max(0, total - len(events))


def _earlier_label(earlier: int) -> str:
    if not earlier:
        return ""
    return ngettext("%(n)s earlier scan not shown", "%(n)s earlier scans not shown", earlier) % {"n": earlier}


def _provider_status(shipment: Any) -> str:
    parts: Iterable[str] = (shipment.provider_status, shipment.provider_sub_status)
    return " · ".join(dict.fromkeys(part for part in parts if part))


def order_parcels(order: Order) -> tuple[list[ParcelView], list[PushView]]:
    """The drawer's parcels, latest news first, each with its pushes; and the pushes of no parcel
    shown (a parcel moved to another order, say), so nothing the channel was told is hidden."""
    pushes_by_parcel: dict[int, list[Any]] = {}
    for push in order.fulfillment_pushes.all():
        pushes_by_parcel.setdefault(push.shipment_id, []).append(push)
    views = []
    for shipment in sorted(_parcels_of(order), key=_latest_first_key, reverse=True):
        shared_with = _other_orders(order, shipment)
        shared = bool(shipment.shared_number or shared_with)
        registered = shipment.registration_state == _REGISTERED
        events, earlier = _events_of(shipment)
        views.append(
            ParcelView(
                pk=shipment.pk,
                number=shipment.tracking_number,
                carrier=_carrier_of(shipment),
                url=_link_of(shipment),
                sub_status_label=str(SUB_STATUS_LABELS.get(shipment.sub_status, "")) if shipment.sub_status else "",
                tracking_status_label=str(shipment.get_tracking_status_display()),
                provider_status=_provider_status(shipment),
                registration_label="" if registered else str(shipment.get_registration_state_display()),
                registration_error="" if registered else shipment.registration_error,
                events=events,
                earlier_events=earlier,
                earlier_label=_earlier_label(earlier),
                shared_with=shared_with,
                shared=shared,
                shared_warning=_shared_warning(shared_with) if shared else "",
                pushes=[push_view(order, push) for push in pushes_by_parcel.pop(shipment.pk, [])],
            )
        )
    unmatched = [push_view(order, push) for pushes in pushes_by_parcel.values() for push in pushes]
    return views, unmatched
