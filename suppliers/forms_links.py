"""Forms of the product links pages. The rules of a link are ``services.link_edit.link_problems``."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from suppliers.enums import SupplierProvider
from suppliers.selectors_links import LinkFilter, stores_of
from suppliers.services.link_edit import MAX_BULK_SKUS, MAX_UNIT_COST, LinkData, link_problems
from suppliers.services.link_import import MAX_IMPORT_BYTES

MAX_ID = 2**63 - 1
PROVIDER_CHOICES = [("", _("Choose a supplier")), *SupplierProvider.choices]
BACKUP_CHOICES = [("", _("No backup")), *SupplierProvider.choices]


def parse_id(value: str | None) -> int | None:
    """A positive id from URL text, or None (only ASCII digits, within bigint)."""
    if not value or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


class StoreChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.get_channel_display()})"


class ProductLinkForm(forms.Form):
    """Create or edit one link; ``link_data()`` is what the services take."""

    store = StoreChoiceField(
        queryset=None,
        required=False,
        label=_("Store"),
        empty_label=_("Any store"),
        help_text=_("The store whose product this is; any store: matched by SKU across the account's stores."),
    )
    channel_variant_id = forms.CharField(label=_("Channel variant id"), max_length=64, required=False)
    channel_product_id = forms.CharField(label=_("Channel product id"), max_length=64, required=False)
    sku = forms.CharField(
        label=_("SKU"),
        max_length=128,
        required=False,
        help_text=_("Matched first by variant id, then by product id, then by SKU."),
    )
    title = forms.CharField(label=_("Product"), max_length=255, required=False)
    provider = forms.ChoiceField(label=_("Supplier"), choices=PROVIDER_CHOICES)
    supplier_product_id = forms.CharField(
        label=_("Supplier product id"),
        max_length=64,
        required=False,  # required by the link's rules, with the supplier's own words (``link_problems``)
        help_text=_("AliExpress: the product_id (digits). CJdropshipping: the variant id (vid)."),
    )
    supplier_sku = forms.CharField(
        label=_("Supplier SKU"),
        max_length=255,
        required=False,
        help_text=_("AliExpress: the sku_attr (e.g. 14:193#Black;5:100014064). CJdropshipping: leave empty."),
    )
    unit_cost = forms.DecimalField(
        label=_("Unit cost"), required=False, min_value=Decimal(0), max_value=MAX_UNIT_COST, decimal_places=2
    )
    cost_currency = forms.CharField(label=_("Cost currency"), max_length=3, initial="USD")
    shipping_method = forms.CharField(
        label=_("Shipping method"),
        max_length=64,
        required=False,
        help_text=_(
            "AliExpress logistics service (e.g. CAINIAO_STANDARD), CJ logistic name; empty: the supplier's default."
        ),
    )
    backup_provider = forms.ChoiceField(label=_("Backup supplier"), choices=BACKUP_CHOICES, required=False)
    backup_product_id = forms.CharField(
        label=_("Backup product id"),
        max_length=64,
        required=False,
        help_text=_("CJdropshipping: the variant id (vid)."),
    )
    backup_sku = forms.CharField(label=_("Backup SKU"), max_length=255, required=False)

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["store"].queryset = stores_of(account=account)  # type: ignore[attr-defined]

    def clean_cost_currency(self) -> str:
        return str(self.cleaned_data["cost_currency"]).upper()

    def link_data(self) -> LinkData:
        data = self.cleaned_data
        store = data.get("store")
        return LinkData(
            store_id=store.pk if store is not None else None,
            channel_product_id=data.get("channel_product_id", ""),
            channel_variant_id=data.get("channel_variant_id", ""),
            sku=data.get("sku", ""),
            title=data.get("title", ""),
            provider=data.get("provider", ""),
            supplier_product_id=data.get("supplier_product_id", ""),
            supplier_sku=data.get("supplier_sku", ""),
            unit_cost=data.get("unit_cost"),
            cost_currency=data.get("cost_currency", ""),
            shipping_method=data.get("shipping_method", ""),
            backup_provider=data.get("backup_provider", ""),
            backup_product_id=data.get("backup_product_id", ""),
            backup_sku=data.get("backup_sku", ""),
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:  # field errors first; the link's rules on clean values only
            return cleaned
        self.add_problems(link_problems(self.link_data()))
        return cleaned

    def add_problems(self, problems: dict[str, list[str]]) -> None:
        for field, messages in problems.items():
            for message in messages:
                self.add_error(field or None, message)


class BulkLinkForm(ProductLinkForm):
    """The supplier side of a link, for many SKUs at once (``skus``: the checked boxes)."""

    skus = forms.MultipleChoiceField(label=_("SKUs"), required=True, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, account: Account, sku_choices: list[str], **kwargs: Any) -> None:
        super().__init__(*args, account=account, **kwargs)
        for name in ("store", "channel_variant_id", "channel_product_id", "sku", "title"):
            del self.fields[name]
        skus = self.fields["skus"]
        assert isinstance(skus, forms.MultipleChoiceField)
        skus.choices = [(sku, sku) for sku in sku_choices]
        skus.error_messages["invalid_choice"] = _(
            "%(value)s is not an unlinked SKU of your orders (it may have been linked meanwhile): reload the page."
        )

    def clean_skus(self) -> list[str]:
        skus = list(self.cleaned_data["skus"])
        if len(skus) > MAX_BULK_SKUS:
            raise forms.ValidationError(_("Link at most %(n)s SKUs at once.") % {"n": MAX_BULK_SKUS})
        return skus

    def clean(self) -> dict[str, Any]:
        cleaned = forms.Form.clean(self) or {}
        if self.errors:
            return cleaned
        # The supplier side is the same for every SKU: its rules checked once.
        skus = cleaned.get("skus") or ["-"]
        self.add_problems(link_problems(replace(self.link_data(), sku=skus[0])))
        return cleaned


class LinkFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, strip=True)
    provider = forms.ChoiceField(required=False, choices=[("", _("All suppliers")), *SupplierProvider.choices])
    store = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    unavailable = forms.BooleanField(required=False)
    before = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def link_filter(self) -> LinkFilter:
        data = self.cleaned_data
        return LinkFilter(
            q=data["q"], provider=data["provider"], store_id=data["store"], unavailable=bool(data["unavailable"])
        )


class LinkImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8 CSV, at most 2 MB and 20,000 rows; the columns are described below."),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB: split it into smaller files.") % {"mb": MAX_IMPORT_BYTES // 2**20}
            )
        return upload
