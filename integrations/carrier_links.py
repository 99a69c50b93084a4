"""Links to a parcel's tracking page: the carrier's own page when we know it, else 17TRACK's.

Used by the channel push (``channels_sync.carriers``: the URL sent with a carrier the channel cannot
link by itself) and by the order center (the tracking number on a row and in the drawer is a link).
It lives here, beside the other things every app needs of the outside world, because ``orders``
may import no other app of ours.

Decisions:
- ``TRACKING_URLS`` is keyed by the canonical carrier names of ``channels_sync.carriers`` (which are
  also the names 17TRACK gives: "Cainiao", "YunExpress", "4PX", "China Post", "USPS", …);
  ``tracking_url_for`` matches them exactly and says "" for any other name: the push then knows it
  has no URL to send.
- ``tracking_link`` is for people: it matches a name ignoring case, spaces and punctuation
  (``carrier_key``), tries each name given in turn (the tracking provider's name first, then the
  supplier's), and for a carrier we know no page of it links 17TRACK's universal page,
  ``https://t.17track.net/en#nums=<number>`` (the form every public integration uses), with
  ``&fc=<17TRACK carrier code>`` when the provider told us the carrier (its codes are numbers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

# Tracking pages for the canonical names, ``{}`` replaced by the (quoted) number.
TRACKING_URLS: dict[str, str] = {
    "Cainiao": "https://global.cainiao.com/newDetail.htm?mailNoList={}",
    "YunExpress": "https://www.yuntrack.com/parcelTracking?id={}",
    "4PX": "https://track.4px.com/#/result/0/{}",
    "China Post": "https://track.chinapost.com.cn/?trackNumber={}",
    "Yanwen": "https://track.yw56.com.cn/en/querydel?nums={}",
    "CJPacket": "https://www.cjpacket.com/?trackingNumber={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "UPS": "https://www.ups.com/track?tracknum={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "DHL eCommerce": "https://webtrack.dhlecs.com/orders?trackingNumber={}",
    "DHL Express": "https://www.dhl.com/en/express/tracking.html?AWB={}",
    "Correios": "https://rastreamento.correios.com.br/app/index.php?objetos={}",
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
}

UNIVERSAL_TRACKING_URL = "https://t.17track.net/en#nums={}"

_NOT_KEY = re.compile(r"[^0-9a-z]+")
_CARRIER_CODE = re.compile(r"^[0-9]{1,9}$")


def carrier_key(name: str) -> str:
    """A name as compared: lower case, letters and digits only ("Yun Express" = "YUNEXPRESS")."""
    return _NOT_KEY.sub("", name.casefold())


_URLS_BY_KEY: dict[str, str] = {carrier_key(name): template for name, template in TRACKING_URLS.items()}


def tracking_url_for(carrier: str | None, number: str) -> str:
    """The carrier's tracking page for ``number`` ("" when we know no page for that carrier)."""
    template = TRACKING_URLS.get(carrier or "")
    return template.format(quote(number, safe="")) if template and number else ""


def tracking_link(number: str, *, carriers: Iterable[str] = (), carrier_code: str = "") -> str:
    """A page a person can open to follow ``number``: the first of ``carriers`` (names, any spelling)
    whose page we know, else 17TRACK's universal page; "" without a number."""
    number = number.strip()
    if not number:
        return ""
    quoted = quote(number, safe="")
    for name in carriers:
        template = _URLS_BY_KEY.get(carrier_key(name or ""))
        if template:
            return template.format(quoted)
    url = UNIVERSAL_TRACKING_URL.format(quoted)
    code = carrier_code.strip()
    return f"{url}&fc={code}" if _CARRIER_CODE.match(code) else url
