"""The auto-order rule form of one store (owners)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from suppliers.models import AutoOrderRule

COUNTRY = re.compile(r"^[A-Z]{2}$")
MAX_HOLD_MINUTES = 7 * 24 * 60


class AutoOrderRuleForm(forms.ModelForm):
    countries_text = forms.CharField(
        label=_("Only to these countries"),
        required=False,
        max_length=600,
        help_text=_("Two-letter country codes separated by commas (US, BR, DE); empty: every country."),
    )

    class Meta:
        model = AutoOrderRule
        fields = ("enabled", "place", "pay", "hold_minutes", "max_order_total", "min_margin")
        help_texts = {
            "hold_minutes": _(
                "How long a new order waits before the rule places it (TikTok Shop orders: at least 60)."
            ),
            "max_order_total": _("Empty: any total. In the store's currency."),
            "min_margin": _("Order total less the linked products' cost. Empty: any margin."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["countries_text"].initial = ", ".join(self.instance.countries or [])
        self.fields["hold_minutes"].widget.attrs.update(min=0, max=MAX_HOLD_MINUTES)
        for name in ("max_order_total", "min_margin"):
            self.fields[name].widget.attrs.update(min=0, step="0.01")

    def _not_negative(self, name: str) -> Decimal | None:
        value = self.cleaned_data.get(name)
        if value is not None and value < 0:
            raise forms.ValidationError(_("Ensure this value is greater than or equal to 0."))
        return value

    def clean_max_order_total(self) -> Decimal | None:
        return self._not_negative("max_order_total")

    def clean_min_margin(self) -> Decimal | None:
        return self._not_negative("min_margin")

    def clean_hold_minutes(self) -> int:
        value = int(self.cleaned_data["hold_minutes"])
        if not 0 <= value <= MAX_HOLD_MINUTES:
            raise forms.ValidationError(_("Choose a hold between 0 minutes and 7 days."))
        return value

    def clean_countries_text(self) -> list[str]:
        codes = [code.strip().upper() for code in str(self.cleaned_data["countries_text"]).split(",") if code.strip()]
        wrong = [code for code in codes if not COUNTRY.match(code)]
        if wrong:
            raise forms.ValidationError(
                _("These are not two-letter country codes: %(codes)s") % {"codes": ", ".join(wrong[:5])[:100]}
            )
        return sorted(set(codes))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("enabled") and not (data.get("place") or data.get("pay")):
            raise forms.ValidationError(_("A rule that is on must place, pay, or both."))
        return data

    def save(self, commit: bool = True) -> AutoOrderRule:
        self.instance.countries = self.cleaned_data["countries_text"]
        return super().save(commit=commit)
