"""The order center's URL state, validated. Bad values become 400 (or 404 for a foreign store)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from orders.enums import ARCHIVE_TAB, SUB_STATUSES_BY_STATUS, TAB_STATUSES, OrderStatus
from orders.selectors import Cursor, OrderFilter

TAB_CHOICES = [(status.value, status.label) for status in TAB_STATUSES] + [(ARCHIVE_TAB, _("Archive"))]


# The largest id a row can have (PostgreSQL bigint, SQLite INTEGER): a larger one in a URL is
# garbage, and passing it on would overflow the database driver.
MAX_ID = 2**63 - 1


class InvalidCursor(ValueError):
    pass


def parse_id(value: str) -> int | None:
    """A positive id from URL text, or None; only ASCII digits (``"²".isdigit()`` is true)."""
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def encode_cursor(cursor: Cursor) -> str:
    raw = f"{cursor.placed_at.isoformat()}|{cursor.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        placed_at_text, id_text = raw.split("|")
        placed_at = datetime.fromisoformat(placed_at_text)
        if placed_at.tzinfo is None:
            raise InvalidCursor("cursor without a time zone")
        placed_at = placed_at.astimezone(UTC)  # a time that has no UTC equivalent (year 0 or 10000) is garbage
        order_id = parse_id(id_text)
        if order_id is None:
            raise InvalidCursor("cursor id out of range")
        return Cursor(placed_at=placed_at, id=order_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise InvalidCursor(str(exc)) from exc


class OrderCenterForm(forms.Form):
    status = forms.ChoiceField(choices=TAB_CHOICES, required=False)
    sub_status = forms.CharField(required=False)
    store = forms.IntegerField(required=False, min_value=1)
    q = forms.CharField(required=False, max_length=100, strip=True)
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)
    cursor = forms.CharField(required=False, max_length=200)

    def __init__(self, *args: object, account: Account, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.account = account

    def clean_status(self) -> str:
        return self.cleaned_data["status"] or OrderStatus.NEW

    def clean_cursor(self) -> Cursor | None:
        value = self.cleaned_data["cursor"]
        if not value:
            return None
        try:
            return decode_cursor(value)
        except InvalidCursor:
            raise forms.ValidationError(_("This page link is broken; start again from the first page.")) from None

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        status = cleaned.get("status")
        sub_status = cleaned.get("sub_status") or None
        if status and sub_status is not None:
            allowed = SUB_STATUSES_BY_STATUS.get(OrderStatus(status), ()) if status != ARCHIVE_TAB else ()
            if sub_status not in allowed:
                self.add_error("sub_status", _("“%(sub)s” is not a sub-status of this tab.") % {"sub": sub_status})
        cleaned["sub_status"] = sub_status
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def order_filter(self) -> OrderFilter:
        data = self.cleaned_data
        return OrderFilter(
            tab=data["status"],
            sub_status=data["sub_status"],
            store_id=data["store"],
            q=data["q"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )


MAX_BULK_ORDERS = 500


def parse_order_ids(values: list[str]) -> list[int]:
    """Order ids posted for a bulk action; the service checks they belong to the account."""
    if not values:
        raise forms.ValidationError(_("Select at least one order."))
    if len(values) > MAX_BULK_ORDERS:
        raise forms.ValidationError(_("Select at most %(n)s orders at a time.") % {"n": MAX_BULK_ORDERS})
    ids = [parse_id(value) for value in values]
    if None in ids:
        raise forms.ValidationError(_("These are not order ids."))
    return sorted({order_id for order_id in ids if order_id is not None})
