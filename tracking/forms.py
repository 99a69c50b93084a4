"""The owners' tracking settings form: when a parcel expires, when an order counts as stalled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MIN_DAYS, MAX_DAYS = 1, 365


def _days(label: StrOrPromise, help_text: StrOrPromise) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        min_value=MIN_DAYS,
        max_value=MAX_DAYS,
        error_messages={
            "required": _("Enter a number of days."),
            "invalid": _("Enter a whole number of days."),
            # The validators fill in ``limit_value`` when the message is shown (in the user's language).
            "min_value": ngettext_lazy(
                "Enter at least %(limit_value)s day.", "Enter at least %(limit_value)s days.", "limit_value"
            ),
            "max_value": ngettext_lazy(
                "Enter at most %(limit_value)s day.", "Enter at most %(limit_value)s days.", "limit_value"
            ),
        },
        widget=forms.NumberInput(attrs={"min": MIN_DAYS, "max": MAX_DAYS, "step": 1, "inputmode": "numeric"}),
    )


class TrackingSettingsForm(forms.Form):
    expire_after_days = _days(
        _("Expire a parcel after (days without a tracking update)"),
        _("The order moves to Shipment · Expired and the parcel is no longer followed."),
    )
    stalled_no_tracking_days = _days(
        _("Stalled: no tracking number after payment (days)"),
        _("The supplier was paid this many days ago and has given no tracking number."),
    )
    stalled_no_event_days = _days(
        _("Stalled: no tracking update in transit (days)"),
        _("The parcel has had no carrier scan for this many days. Must be fewer days than the expiry."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        expire, no_event = cleaned.get("expire_after_days"), cleaned.get("stalled_no_event_days")
        if expire is not None and no_event is not None and no_event >= expire:
            # Otherwise the parcel expires before the warning could ever show.
            message = _("The stalled warning must come before the expiry: enter fewer than %(days)s days.")
            self.add_error("stalled_no_event_days", message % {"days": expire})
        return cleaned
