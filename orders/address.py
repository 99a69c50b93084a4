"""Is an order's shipping address complete enough to send to a supplier? Pure: no database.

``address_problems`` lists what stops a placement, each with the field to fix, in the merchant's
words. The per-country rules (states, ZIP formats, phone, tax ids) live here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from orders.models import Order


@dataclass(frozen=True)
class AddressProblem:
    code: str  # stable, for tests and support ("city_missing", "cpf_invalid", …)
    field: str  # the Order field to fix ("ship_city", …)
    message: str | Promise  # what is wrong, for the merchant


_REQUIRED: tuple[tuple[str, str, Promise], ...] = (
    ("ship_name", "name_missing", _("The recipient's name is missing.")),
    ("ship_address1", "street_missing", _("The street address is missing.")),
    ("ship_city", "city_missing", _("The city is missing.")),
    ("ship_country_code", "country_missing", _("The country is missing.")),
    ("ship_phone", "phone_missing", _("The recipient's phone number is missing.")),
)


def address_problems(order: Order, *, supplier: str | None = None) -> list[AddressProblem]:
    """What must be fixed on ``order``'s address before ``supplier`` (or any) can be sent it."""
    problems = [
        AddressProblem(code=code, field=field, message=message)
        for field, code, message in _REQUIRED
        if not str(getattr(order, field)).strip()
    ]
    return problems
