"""Carrier names: what a supplier calls the carrier, and what each channel wants to be told.

Suppliers name carriers their own way ("AliExpress Standard Shipping", "CJPacket Ordinary",
"YANWEN"); channels want their own names: Shopify an exact, case-sensitive name from its list of
tracking companies (for those it builds the tracking link itself; any other name is taken too, but
then the tracking URL must be sent), TikTok Shop a ``shipping_provider_id`` from the providers of
the order's delivery option (``providers/tiktok/fulfillment.py`` matches the name below against
them), WooCommerce nothing but words in a note.

``carrier_for(channel, supplier_name, overrides)`` decides: a per-account mapping (``overrides``,
supplier name → channel carrier name, matched ignoring case, spaces and punctuation) comes first,
then the defaults below (``DEFAULT_CARRIERS``: common supplier names → one canonical name), else
the name as the supplier gave it. ``url_needed`` says the channel cannot link the number by itself
(Shopify: the name is not on its list; WooCommerce: we know no such carrier), so the tracking URL
must go with it (``tracking_url_for``, in ``integrations.carrier_links``, builds one for the
carriers we know).

Decisions:
- AliExpress Standard / Selection / Saver Shipping and Cainiao's own lines are tracked on Cainiao's
  global tracking page: canonical "Cainiao". ePacket, "China Post Registered Air Mail" and the like
  are "China Post"; "DHL" alone (an e-commerce parcel, not express) is "DHL eCommerce".
- Shopify's list here is the "any country" list of the FulfillmentTrackingInfo docs (docs/channels.md
  says which part was confirmed); Cainiao, Yanwen and CJPacket are not on it: sent with a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The tracking pages are shared with the order center (``orders`` imports no other app of ours):
# kept importable from here for the pushes.
from integrations.carrier_links import TRACKING_URLS, carrier_key, tracking_url_for
from orders.enums import Channel

__all__ = [
    "DEFAULT_CARRIERS",
    "SHOPIFY_TRACKING_COMPANIES",
    "TRACKING_URLS",
    "CarrierChoice",
    "canonical_carrier",
    "carrier_for",
    "carrier_key",
    "tracking_url_for",
]

# Shopify's supported tracking companies (FulfillmentTrackingInfo.company), exact spelling.
SHOPIFY_TRACKING_COMPANIES: frozenset[str] = frozenset(
    {
        # Confirmed from shopify.dev (2025-01 … 2025-10), "any country", in its order up to here:
        "4PX",
        "AGS",
        "Amazon",
        "Amazon Logistics UK",
        "An Post",
        "Anjun Logistics",
        "APC",
        "Asendia USA",
        "Australia Post",
        "Bonshaw",
        "BPost",
        "BPost International",
        "Canada Post",
        "Canpar",
        "CDL Last Mile",
        "China Post",
        "Chronopost",
        "Chukou1",
        "Colissimo",
        "Comingle",
        "Coordinadora",
        "Correios",
        "Correos",
        "CTT",
        "CTT Express",
        "Cyprus Post",
        "Delnext",
        "Deutsche Post",
        "DHL eCommerce",
        "DHL eCommerce Asia",
        "DHL Express",
        "DPD",
        "DPD Local",
        "DPD UK",
        "DTD Express",
        "DX",
        "Eagle",
        "Estes",
        "Evri",
        "FedEx",
        "First Global Logistics",
        # The rest of the same list as read earlier (not confirmed here: docs/channels.md).
        "FSC",
        "GLS",
        "Globegistics",
        "Iceland Post",
        "Israel Post",
        "Japan Post (EN)",
        "Japan Post (JA)",
        "La Poste",
        "Lasership",
        "Latvia Post",
        "Mondial Relay",
        "New Zealand Post",
        "NinjaVan",
        "OnTrac",
        "Packeta",
        "Pitney Bowes",
        "Poste Italiane",
        "PostNL",
        "PostNord DK",
        "PostNord NO",
        "PostNord SE",
        "Purolator",
        "Royal Mail",
        "Sagawa (EN)",
        "Sagawa (JA)",
        "Sendle",
        "SF Express",
        "SFC Fulfillment",
        "Singapore Post",
        "StarTrack",
        "Swiss Post",
        "TNT",
        "Toll IPEC",
        "UPS",
        "USPS",
        "Whistl",
        "Yamato (EN)",
        "Yamato (JA)",
        "YunExpress",
    }
)

# Supplier names (as ``carrier_key`` reads them) → the canonical carrier name.
_ALIASES: dict[str, tuple[str, ...]] = {
    "Cainiao": (
        "Cainiao",
        "Cainiao Super Economy",
        "Cainiao Expedited Standard",
        "Cainiao Standard Shipping",
        "AliExpress Standard Shipping",
        "AliExpress Selection Shipping",
        "AliExpress Saver Shipping",
        "AliExpress Premium Shipping",
        "AliExpress Direct",
        "AE Standard Shipping",
    ),
    "YunExpress": ("YunExpress", "Yun Express", "YunTu", "Yuntu Logistics"),
    "4PX": ("4PX", "4PX Express", "4PX Singapore Post OM Pro", "4PX Global Express"),
    "China Post": (
        "China Post",
        "China Post Registered Air Mail",
        "China Post Ordinary Small Packet Plus",
        "China Post Air Parcel",
        "ePacket",
        "China Post ePacket",
    ),
    "Yanwen": ("Yanwen", "Yanwen Economic Air Mail", "Yanwen Special Line"),
    "CJPacket": ("CJPacket", "CJ Packet", "CJPacket Ordinary", "CJPacket Sensitive", "CJPacket Liquid"),
    "USPS": ("USPS", "United States Postal Service", "US Postal Service"),
    "UPS": ("UPS", "United Parcel Service"),
    "FedEx": ("FedEx", "Federal Express", "FedEx IE", "FedEx IP"),
    "DHL eCommerce": ("DHL eCommerce", "DHL Global Mail", "DHL eCommerce Solutions", "DHL"),
    "DHL Express": ("DHL Express", "DHL Worldwide Express"),
    "Correios": ("Correios", "Correios Brazil", "Brazil Post"),
    "Royal Mail": ("Royal Mail", "UK Royal Mail"),
    "Canada Post": ("Canada Post", "Postes Canada"),
    "Australia Post": ("Australia Post", "AusPost"),
    "La Poste": ("La Poste", "France Post"),
    "Deutsche Post": ("Deutsche Post", "Deutsche Post DHL"),
    "PostNL": ("PostNL", "Netherlands Post"),
    "SF Express": ("SF Express", "SF"),
}
DEFAULT_CARRIERS: dict[str, str] = {}  # filled below: carrier_key(alias) → canonical name

for _canonical, _names in _ALIASES.items():
    for _name in _names:
        DEFAULT_CARRIERS[carrier_key(_name)] = _canonical


@dataclass(frozen=True)
class CarrierChoice:
    """What to tell the channel: ``name`` (None: the supplier named no carrier) and whether the
    tracking URL must go with it because the channel cannot build one from the name."""

    name: str | None
    url_needed: bool


def canonical_carrier(supplier_name: str) -> str | None:
    """The canonical name of a supplier's carrier name, None when it is not one we know."""
    return DEFAULT_CARRIERS.get(carrier_key(supplier_name))


def carrier_for(channel: str, supplier_name: str, overrides: Mapping[str, str]) -> CarrierChoice:
    """The carrier to tell ``channel`` for the supplier's ``supplier_name``: the account's mapping
    (``overrides``), else our defaults, else the name as given (see the module docstring)."""
    given = " ".join(supplier_name.split())
    key = carrier_key(given)
    mapped = next((value.strip() for name, value in overrides.items() if carrier_key(name) == key and key), "")
    known = mapped or canonical_carrier(given)
    name = known or given or None
    if channel == Channel.SHOPIFY:
        return CarrierChoice(name, url_needed=name not in SHOPIFY_TRACKING_COMPANIES)
    if channel == Channel.WOOCOMMERCE:
        return CarrierChoice(name, url_needed=known is None)
    return CarrierChoice(name, url_needed=False)  # TikTok Shop takes a provider id, no URL


def default_carrier_names() -> dict[str, tuple[str, ...]]:
    """The defaults as the carrier mapping page shows them: canonical name → the names read as it."""
    return dict(_ALIASES)
