"""The public tracking page's reads (``/t/<token>/``): what a carrier's page would show of an order's
parcels, and nothing personal; the token check and the per-client rate limit in front of it.

- The token is checked for its shape (``secrets.token_urlsafe(32)``: 43 characters of the URL-safe
  alphabet) before any query; a well-formed one is looked up by its unique index only.
- ``public_page_for`` reads three queries whatever the number of parcels and events: the page with
  its order and store, the parcels (the order's own and those whose number it shares, both read
  through an index: ``public_shipments``; only parcels of the order's own account), their events.
- A status stored outside our enums (a newer provider value, a bad row) shows a neutral label,
  never an error.
- What it carries: the store's name, the order's number, per parcel its carrier, number, our
  sub-status and the provider's status as received, and its timeline (time, place, description).
  No customer name, e-mail, phone or address, no amount, no supplier.
- ``public_page_admit``: fixed windows counted in the cache per client address
  (``TRACKING_PAGE_RATE_LIMIT`` requests per ``TRACKING_PAGE_RATE_WINDOW`` seconds); an IPv6
  client counts per /64 (``public_client_key``: one host has a whole /64 to pick addresses from).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from orders.derivation import ShipmentFact, shipment_stage
from orders.enums import SubStatus, TrackingStatus
from tracking.models import Shipment, ShipmentOrder, TrackingEvent, TrackingPage

logger = logging.getLogger(__name__)

# ``tracking.services.pages`` makes ``secrets.token_urlsafe(32)``: 32 bytes, 43 base64url characters.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def token_well_formed(token: str) -> bool:
    """The shape of a page token; anything else is refused before the database is asked."""
    return TOKEN_PATTERN.fullmatch(token) is not None


@dataclass(frozen=True)
class PublicEvent:
    occurred_at: datetime
    location: str
    description: str


@dataclass(frozen=True)
class PublicParcel:
    carrier: str
    tracking_number: str
    status: str | Promise  # our sub-status's label, in the active language
    provider_status: str  # as the provider said it ("InTransit"), "" before it said anything
    provider_sub_status: str
    events: tuple[PublicEvent, ...]  # newest first


@dataclass(frozen=True)
class PublicPage:
    store_name: str
    order_number: str
    parcels: tuple[PublicParcel, ...]


# What a parcel whose stored status is outside our enums shows.
UNKNOWN_STATUS_LABEL = _("Status unavailable")


def public_shipments(*, order_id: int, account_id: int) -> QuerySet[Shipment]:
    """The order's parcels: its own and those whose number it shares, of its own account only.

    Two indexed reads in one statement, a UNION of the ids (``order_id`` on the parcels,
    ``order_id`` on the links), never an OR across a join or a subquery (that scans every parcel)."""
    own = Shipment.objects.filter(order_id=order_id).values("pk")
    shared = ShipmentOrder.objects.filter(order_id=order_id).values("shipment_id")
    return Shipment.objects.filter(pk__in=own.union(shared), account_id=account_id)


def public_page_for(token: str, *, now: datetime | None = None) -> PublicPage | None:
    """The page of ``token`` (None: no such page); three queries. Call it with a well-formed token."""
    page = TrackingPage.objects.select_related("order__store", "order__account").filter(token=token).first()
    if page is None:
        return None
    order = page.order
    now = now or timezone.now()
    expire_after = timedelta(days=order.account.expire_after_days)
    shipments = (
        public_shipments(order_id=order.pk, account_id=order.account_id)
        .order_by("created_at", "id")
        .prefetch_related(Prefetch("events", queryset=TrackingEvent.objects.order_by("-occurred_at", "-id")))
    )
    parcels = []
    for shipment in shipments:
        label: str | Promise
        try:
            fact = ShipmentFact(
                tracking_status=TrackingStatus(shipment.tracking_status),
                created_at=shipment.created_at,
                last_event_at=shipment.last_event_at,
            )
            label = SubStatus(shipment_stage(fact, now=now, expire_after=expire_after)[1]).label
        except ValueError:  # a value outside the enums: the rest of the parcel still shows
            logger.warning(
                "public page: parcel %s has a status outside the enums (%r)", shipment.pk, shipment.tracking_status
            )
            label = UNKNOWN_STATUS_LABEL
        parcels.append(
            PublicParcel(
                carrier=shipment.carrier_name or shipment.carrier,
                tracking_number=shipment.tracking_number,
                status=label,
                provider_status=shipment.provider_status,
                provider_sub_status=shipment.provider_sub_status,
                events=tuple(
                    PublicEvent(occurred_at=event.occurred_at, location=event.location, description=event.description)
                    for event in shipment.events.all()
                ),
            )
        )
    return PublicPage(store_name=order.store.name, order_number=order.number, parcels=tuple(parcels))


def public_client_key(client: str) -> str:
    """The rate limit's key of a client address: an IPv4 address as is, an IPv6 one its /64
    (an IPv4-mapped one as its IPv4 address); anything unparsable as given."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def public_page_admit(*, client: str, now: float | None = None) -> int:
    """Count one request from ``client``; 0 when it may see the page, else the seconds to wait.

    With the cache unreachable the request is let in: the page is cheap, and a broken limit
    must not take the customers' page down.
    """
    limit, window = settings.TRACKING_PAGE_RATE_LIMIT, settings.TRACKING_PAGE_RATE_WINDOW
    if limit <= 0:
        return 0
    now = time.time() if now is None else now
    slot = math.floor(now / window)
    key = f"tracking-page:{public_client_key(client)}:{slot}"
    try:
        # ``add`` makes the window's counter (two first requests at once: one makes it), ``incr``
        # counts; the counter lives a little past its window, then the cache drops it.
        count = 1 if cache.add(key, 1, timeout=window + 1) else cache.incr(key)
    except (RedisError, ValueError) as error:  # ValueError: the counter ran out between the two calls
        logger.warning("tracking page rate limit not applied: %r", error)
        return 0
    if count <= limit:
        return 0
    return max(1, math.ceil((slot + 1) * window - now))
