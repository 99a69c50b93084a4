"""AliExpress's own tracking of an order: ``aliexpress.ds.order.tracking.get`` (docs/suppliers.md,
"AliExpress tracking (the fallback)").

Request: ``ae_order_id`` (the order id ``aliexpress.ds.order.create`` gave) and ``language``, both
required. Answer ``result``: ``{"ret": bool, "code", "msg", "data": {"tracking_detail_line_list":
[{"carrier_name", "mail_no", "eta_time_stamps", "package_item_list": [...], "detail_node_list":
[{"time_stamp" (ms), "tracking_name", "tracking_detail_desc"}]}]}}``; an order with nothing to
track yet answers ``ret: false`` with ``TRACKING DATA NOT FOUND``. The nodes name no place: the
events read from them have no location.

Read as hostile input: a parcel or an event that cannot be read is left out (counted), never
guessed; an answer that is not the method's shape at all is a ``ProviderError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from integrations.errors import ProviderError
from integrations.http import sanitize

TRACKING_GET = "aliexpress.ds.order.tracking.get"
LANGUAGE = "en_US"
NOT_FOUND_CODES = frozenset({"TRACKING DATA NOT FOUND"})
MAX_PARCELS = 20
MAX_EVENTS = 200  # per parcel: the newest kept
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_MS = 4102444800000  # 2100-01-01: a later stamp is not a scan time


@dataclass(frozen=True)
class SupplierScan:
    time: datetime  # UTC
    description: str
    location: str = ""


@dataclass(frozen=True)
class SupplierParcelTracking:
    number: str
    carrier: str
    events: tuple[SupplierScan, ...]  # oldest first
    dropped: int = 0  # nodes that could not be read


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 15:
        return None
    stamp = int(text)
    if stamp > LATEST_MS:
        return None
    moment = datetime.fromtimestamp(stamp / 1000, tz=UTC)
    return moment if moment >= EARLIEST else None


def scan_of(node: Any) -> SupplierScan | None:
    """One ``detail_node_list`` node, or None when it cannot be read."""
    if not isinstance(node, dict):
        return None
    moment = _time(node.get("time_stamp"))
    words = [node.get(key) for key in ("tracking_detail_desc", "tracking_name")]
    description = next((sanitize(w, 500) for w in words if isinstance(w, str) and sanitize(w, 500)), "")
    if moment is None or not description:
        return None
    return SupplierScan(time=moment, description=description)


def parcel_of(line: Any) -> SupplierParcelTracking | None:
    """One ``tracking_detail_line_list`` entry, or None without a usable mail number."""
    if not isinstance(line, dict):
        return None
    number = line.get("mail_no")
    if not isinstance(number, str) or not sanitize(number, 64) or len(number) > 64:
        return None
    carrier = line.get("carrier_name")
    nodes = line.get("detail_node_list")
    nodes = nodes if isinstance(nodes, list) else []
    scans = [scan_of(node) for node in nodes[: MAX_EVENTS * 5]]
    kept = sorted((scan for scan in scans if scan is not None), key=lambda scan: scan.time)[-MAX_EVENTS:]
    return SupplierParcelTracking(
        number=sanitize(number, 64).upper(),
        carrier=sanitize(carrier, 100) if isinstance(carrier, str) else "",
        events=tuple(kept),
        dropped=len(nodes) - len(kept),
    )


def parcels_of(result: Any) -> list[SupplierParcelTracking]:
    """The parcels of one ``aliexpress.ds.order.tracking.get`` result object."""
    if not isinstance(result, dict):
        raise ProviderError("AliExpress answered the tracking query without a result")
    ret, code = result.get("ret"), result.get("code")
    if ret is not True and str(ret).lower() != "true":
        if isinstance(code, str) and code.upper() in NOT_FOUND_CODES:
            return []
        said = sanitize(f"{code if isinstance(code, str | int) else ''} {result.get('msg') or ''}", 200)
        raise ProviderError(f"AliExpress refused the tracking query ({said or 'no code'})")
    data = result.get("data")
    lines = data.get("tracking_detail_line_list") if isinstance(data, dict) else None
    if lines is None:
        return []
    if not isinstance(lines, list):
        raise ProviderError("AliExpress sent a tracking list that is not a list")
    return [parcel for parcel in (parcel_of(line) for line in lines[:MAX_PARCELS]) if parcel is not None]
