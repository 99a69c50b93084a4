"""17TRACK's statuses onto ours (``orders.enums.TrackingStatus``). Pure: no database, no HTTP.

Source [C]: help.17track.net "Understanding Tracking Status (Main Status / Substatus)": 9 main
statuses and 30 sub-statuses, each sub-status named ``<Main>_<Detail>`` (``InfoReceived`` is
both). The main status decides ours; the sub-status is kept as received for display. What the
order center then shows (orders.derivation): In Transit includes out for delivery, Pickup is
available for pickup, Failed is delivery failure and every exception (returning, returned,
lost, damaged, …).

A status we do not know (17TRACK adds one, or a hostile body) maps to ``UNKNOWN`` and is kept
as received beside it: never a crash. An event carries only a sub-status: its main status is
the one the sub-status belongs to (the table, else the text before the first ``_``).
"""

from __future__ import annotations

from types import MappingProxyType

from orders.enums import TrackingStatus

MAIN_STATUSES: MappingProxyType[str, TrackingStatus] = MappingProxyType(
    {
        "NotFound": TrackingStatus.NOT_FOUND,
        "InfoReceived": TrackingStatus.INFO_RECEIVED,
        "InTransit": TrackingStatus.IN_TRANSIT,
        "Expired": TrackingStatus.EXPIRED,
        "AvailableForPickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
        "OutForDelivery": TrackingStatus.OUT_FOR_DELIVERY,
        "DeliveryFailure": TrackingStatus.DELIVERY_FAILURE,
        "Delivered": TrackingStatus.DELIVERED,
        "Exception": TrackingStatus.EXCEPTION,
    }
)

# Each sub-status and the main status it belongs to (the 30 of the source, in its order).
SUB_STATUSES: MappingProxyType[str, str] = MappingProxyType(
    {
        "NotFound_Other": "NotFound",
        "NotFound_InvalidCode": "NotFound",
        "InfoReceived": "InfoReceived",
        "InTransit_PickedUp": "InTransit",
        "InTransit_Other": "InTransit",
        "InTransit_Departure": "InTransit",
        "InTransit_Arrival": "InTransit",
        "InTransit_CustomsProcessing": "InTransit",
        "InTransit_CustomsReleased": "InTransit",
        "InTransit_CustomsRequiringInformation": "InTransit",
        "Expired_Other": "Expired",
        "AvailableForPickup_Other": "AvailableForPickup",
        "OutForDelivery_Other": "OutForDelivery",
        "DeliveryFailure_Other": "DeliveryFailure",
        "DeliveryFailure_NoBody": "DeliveryFailure",
        "DeliveryFailure_Security": "DeliveryFailure",
        "DeliveryFailure_Rejected": "DeliveryFailure",
        "DeliveryFailure_InvalidAddress": "DeliveryFailure",
        "Delivered_Other": "Delivered",
        "Exception_Other": "Exception",
        "Exception_Returning": "Exception",
        "Exception_Returned": "Exception",
        "Exception_NoBody": "Exception",
        "Exception_Security": "Exception",
        "Exception_Damage": "Exception",
        "Exception_Rejected": "Exception",
        "Exception_Delayed": "Exception",
        "Exception_Lost": "Exception",
        "Exception_Destroyed": "Exception",
        "Exception_Cancel": "Exception",
    }
)

# Main statuses after which 17TRACK has nothing more to say (stop tracking: no quota, no pushes).
# DeliveryFailure is not one: the carrier usually tries again.
TERMINAL_MAIN_STATUSES = frozenset({"Delivered", "Expired"})
TERMINAL_SUB_STATUSES = frozenset({"Exception_Returned", "Exception_Lost", "Exception_Destroyed", "Exception_Cancel"})


def main_of_sub_status(sub_status: str) -> str:
    """The main status a sub-status belongs to ("" when it names none)."""
    if sub_status in SUB_STATUSES:
        return SUB_STATUSES[sub_status]
    return sub_status.split("_", 1)[0] if sub_status else ""


def status_of(main_status: str, sub_status: str = "") -> TrackingStatus:
    """Our status for 17TRACK's (main status, sub-status), UNKNOWN when neither is one we know."""
    known = MAIN_STATUSES.get(main_status)
    if known is not None:
        return known
    return MAIN_STATUSES.get(main_of_sub_status(sub_status), TrackingStatus.UNKNOWN)


def is_terminal(main_status: str, sub_status: str = "") -> bool:
    """17TRACK will report nothing more that matters: the number can be stopped."""
    return main_status in TERMINAL_MAIN_STATUSES or sub_status in TERMINAL_SUB_STATUSES
