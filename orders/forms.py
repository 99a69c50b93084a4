"""The order center's URL state, validated. Bad values become 400 (or 404 for a foreign store)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Account
from orders.address import KNOWN_COUNTRIES, STATES, address_problems, phone_normalized, province_code
from orders.enums import ARCHIVE_TAB, SUB_STATUSES_BY_STATUS, TAB_STATUSES, OrderStatus
from orders.models import Order
from orders.selectors import Cursor, OrderFilter
from orders.services.intake import AddressData

TAB_CHOICES = [(status.value, status.label) for status in TAB_STATUSES] + [
    (ARCHIVE_TAB, pgettext_lazy("order tab", "Archive"))
]


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
    # "1": only the stalled orders of the tab; anything else but nothing is a bad link (400).
    stalled = forms.ChoiceField(choices=[("1", _("Stalled only"))], required=False)
    # "1": only the orders whose supplier is late on a refund (``Order.refund_overdue``); else 400.
    overdue = forms.ChoiceField(choices=[("1", _("Refund overdue only"))], required=False)

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
            stalled=data["stalled"] == "1",
            overdue=data["overdue"] == "1",
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


class AddressForm(forms.Form):
    """The shipping address of an order, as the merchant corrects it. Valid only when complete for
    its country (``orders.address.address_problems``): each problem is shown on its field."""

    name = forms.CharField(label=_("Recipient"), max_length=200)
    phone = forms.CharField(
        label=_("Phone"), max_length=40, help_text=_("With the country code (+55 11 91234 5678) or as dialled there.")
    )
    address1 = forms.CharField(label=_("Street address"), max_length=255)
    address2 = forms.CharField(label=_("Address line 2"), max_length=255, required=False)
    city = forms.CharField(label=_("City"), max_length=120, required=False)
    province = forms.CharField(label=_("State / province"), max_length=120, required=False)
    zip = forms.CharField(label=_("ZIP / postal code"), max_length=20, required=False)
    country_code = forms.CharField(
        label=_("Country"), max_length=2, min_length=2, help_text=_("Two letters: US, GB, BR, …")
    )
    tax_id = forms.CharField(
        label=_("Tax id"),
        max_length=40,
        required=False,
        help_text=_("Brazil: the CPF; Chile: the RUT; Korea: the personal customs clearance code."),
    )

    # AddressProblem.field (an Order field) → this form's field.
    ORDER_FIELDS = {
        "ship_name": "name",
        "ship_phone": "phone",
        "ship_address1": "address1",
        "ship_address2": "address2",
        "ship_city": "city",
        "ship_province": "province",
        "ship_province_code": "province",
        "ship_zip": "zip",
        "ship_country_code": "country_code",
        "ship_tax_id": "tax_id",
    }

    @classmethod
    def initial_for(cls, order: Order) -> dict[str, str]:
        return {
            "name": order.ship_name,
            "phone": order.ship_phone,
            "address1": order.ship_address1,
            "address2": order.ship_address2,
            "city": order.ship_city,
            "province": order.ship_province or order.ship_province_code,
            "zip": order.ship_zip,
            "country_code": order.ship_country_code,
            "tax_id": order.ship_tax_id,
        }

    def clean_country_code(self) -> str:
        value = self.cleaned_data["country_code"].strip().upper()
        if value not in KNOWN_COUNTRIES:
            raise forms.ValidationError(_("Enter the country's two-letter code, such as US, GB or BR."))
        return value

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        if self.errors:
            return data
        address = self.address()
        for problem in address_problems(Order(**address.order_fields())):
            self.add_error(self.ORDER_FIELDS.get(problem.field), str(problem.message))
        return data

    def address(self) -> AddressData:
        """The cleaned values as an address: the phone in international form, a listed state as its
        code and name, the ZIP upper-cased."""
        data = self.cleaned_data
        country = data["country_code"]
        province = data.get("province", "").strip()
        code = province_code(country, province) if country in STATES else None
        return AddressData(
            name=data["name"],
            phone=phone_normalized(data["phone"], country=country) or data["phone"],
            address1=data["address1"],
            address2=data.get("address2", ""),
            city=data.get("city", ""),
            province=STATES[country][code] if code else province,
            province_code=code or "",
            zip=data.get("zip", "").strip().upper(),
            country_code=country,
            tax_id=data.get("tax_id", ""),
        )
