"""Product links written by the merchant: create, edit, delete, link many SKUs at once.

The rules a link must meet live here once (``link_problems``), for the form and the CSV import
alike. The matching of an order line to a link is ``suppliers.services.links``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import Account
from suppliers.enums import SupplierProvider
from suppliers.models import ProductLink

# The largest unit cost the column holds (max_digits=12, decimal_places=2).
MAX_UNIT_COST = Decimal("9999999999.99")
# How many SKUs one "link these SKUs" may create (the form lists at most this many).
MAX_BULK_SKUS = 500
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DIGITS = re.compile(r"^[0-9]{1,20}$")


class LinkNotFound(Exception):
    """No such link in this account."""


class LinkKeyTaken(Exception):
    """Another link of the account already buys this product / variant / SKU."""

    def __init__(self, existing: ProductLink | None) -> None:
        super().__init__("link key taken")
        self.existing = existing


class LinkInvalid(Exception):
    """The link breaks a rule (``problems``: field name, or "" for the whole link, → messages)."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("invalid link")
        self.problems = problems


@dataclass(frozen=True)
class LinkData:
    """What a link says, cleaned (stripped text; ``store_id`` None: any store)."""

    provider: str
    supplier_product_id: str
    store_id: int | None = None
    channel_product_id: str = ""
    channel_variant_id: str = ""
    sku: str = ""
    title: str = ""
    supplier_sku: str = ""
    unit_cost: Decimal | None = None
    cost_currency: str = "USD"
    shipping_method: str = ""
    backup_provider: str = ""
    backup_product_id: str = ""
    backup_sku: str = ""


LINK_FIELDS = tuple(field.name for field in fields(LinkData))
# What a link is found by: the variant, else the product, else the SKU (``ProductLink`` constraints).
KEY_FIELDS = ("store_id", "channel_product_id", "channel_variant_id", "sku")
# The supplier side: changing one of these on a flagged link is a new answer to "SKU gone".
SUPPLIER_FIELDS = ("provider", "supplier_product_id", "supplier_sku")


def link_key(data: LinkData) -> tuple[str, int | None, str]:
    """(kind, store id, value): the one key a link is unique by. A SKU link is unique per account."""
    if data.channel_variant_id:
        return ("variant", data.store_id, data.channel_variant_id)
    if data.channel_product_id:
        return ("product", data.store_id, data.channel_product_id)
    return ("sku", None, data.sku)


def key_filter(key: tuple[str, int | None, str]) -> Q:
    """The links with this key (a NULL store matched as "any store", which the constraint does not)."""
    kind, store_id, value = key
    store = Q(store__isnull=True) if store_id is None else Q(store_id=store_id)
    if kind == "variant":
        return store & Q(channel_variant_id=value)
    if kind == "product":
        return store & Q(channel_variant_id="", channel_product_id=value)
    return Q(channel_variant_id="", channel_product_id="", sku=value)


def _supplier_side(provider: str, product_id: str, sku: str, *, product_field: str, sku_field: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    if provider == SupplierProvider.ALIEXPRESS:
        if product_id and not _DIGITS.match(product_id):
            problems[product_field] = _("An AliExpress product id is digits only (e.g. 1005006454451334).")
    elif provider == SupplierProvider.CJ:
        # CJ's createOrderV2 buys ``products: [{vid, quantity}]``: the vid alone says what is bought,
        # and placement sends the link's product id as the vid (``PlaceLine.product_id``).
        if not product_id:
            problems[product_field] = _("Enter the CJdropshipping variant id (vid).")
        if sku:
            problems[sku_field] = _(
                "CJdropshipping buys by variant id alone: put the vid in the product id and leave this empty."
            )
    return problems


def link_problems(data: LinkData) -> dict[str, list[str]]:
    """Every rule the link breaks, by field ("" for the link as a whole); empty: valid."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    for name in LINK_FIELDS:
        value = getattr(data, name)
        if isinstance(value, str) and any(unicodedata.category(char) == "Cc" for char in value):
            add(name, _("Remove the line breaks and control characters."))
    if not (data.channel_variant_id or data.channel_product_id or data.sku):
        add("", _("Say what is bought: a channel variant id, a channel product id or a SKU."))
    if data.provider not in SupplierProvider.values:
        add("provider", _("Choose a supplier: AliExpress, CJdropshipping or Temu."))
    if not data.supplier_product_id and data.provider != SupplierProvider.CJ:
        add("supplier_product_id", _("Enter the supplier's product id."))
    for field, message in _supplier_side(
        data.provider,
        data.supplier_product_id,
        data.supplier_sku,
        product_field="supplier_product_id",
        sku_field="supplier_sku",
    ).items():
        add(field, message)
    if data.unit_cost is not None and not (Decimal(0) <= data.unit_cost <= MAX_UNIT_COST):
        add("unit_cost", _("The unit cost is zero or more (and below 10,000,000,000)."))
    if not _CURRENCY.match(data.cost_currency):
        add("cost_currency", _("A currency is three capital letters (USD, EUR)."))
    if data.backup_provider:
        if data.backup_provider not in SupplierProvider.values:
            add("backup_provider", _("Choose a supplier: AliExpress, CJdropshipping or Temu."))
        if not data.backup_product_id and data.backup_provider != SupplierProvider.CJ:
            add("backup_product_id", _("Enter the backup supplier's product id."))
        for field, message in _supplier_side(
            data.backup_provider,
            data.backup_product_id,
            data.backup_sku,
            product_field="backup_product_id",
            sku_field="backup_sku",
        ).items():
            add(field, message)
    elif data.backup_product_id or data.backup_sku:
        add("backup_provider", _("Choose the backup supplier of this backup product."))
    return problems


def _existing(account: Account, data: LinkData, *, exclude_id: int | None = None) -> ProductLink | None:
    links = ProductLink.objects.filter(key_filter(link_key(data)), account=account)
    if exclude_id is not None:
        links = links.exclude(pk=exclude_id)
    return links.order_by("id").first()


def _write(account: Account, link: ProductLink, data: LinkData) -> ProductLink:
    """Save under a savepoint: a concurrent writer of the same key is ``LinkKeyTaken``, never a 500."""
    problems = link_problems(data)
    if problems:
        raise LinkInvalid(problems)
    existing = _existing(account, data, exclude_id=link.pk)
    if existing is not None:
        raise LinkKeyTaken(existing)
    for name in LINK_FIELDS:
        setattr(link, name, getattr(data, name))
    try:
        with transaction.atomic():
            link.save()
    except IntegrityError:
        raise LinkKeyTaken(_existing(account, data, exclude_id=link.pk)) from None
    return link


def product_link_get(*, account: Account, link_id: int) -> ProductLink:
    link = ProductLink.objects.filter(account=account, pk=link_id).select_related("store").first()
    if link is None:
        raise LinkNotFound(link_id)
    return link


def product_link_create(*, account: Account, data: LinkData) -> ProductLink:
    return _write(account, ProductLink(account=account), data)


def product_link_update(*, account: Account, link_id: int, data: LinkData) -> ProductLink:
    """Edit a link; saving it clears the "unavailable" flag (the merchant has looked at it)."""
    with transaction.atomic():
        link = ProductLink.objects.select_for_update(of=("self",)).filter(account=account, pk=link_id).first()
        if link is None:
            raise LinkNotFound(link_id)
        link.unavailable_at = None
        link.unavailable_reason = ""
        return _write(account, link, data)


def product_link_delete(*, account: Account, link_id: int) -> ProductLink:
    """Delete a link (supplier orders keep their copy of what was bought)."""
    link = product_link_get(account=account, link_id=link_id)
    ProductLink.objects.filter(account=account, pk=link.pk).delete()
    return link


@dataclass(frozen=True)
class BulkLinkResult:
    created: tuple[str, ...]
    already_linked: tuple[str, ...]


def product_links_create_for_skus(*, account: Account, skus: Sequence[str], data: LinkData) -> BulkLinkResult:
    """One SKU link (any store) per SKU, all to the supplier product in ``data``, in one go.

    A SKU linked meanwhile (another tab, an import) is left as it is and reported.
    """
    wanted = list(dict.fromkeys(sku.strip() for sku in skus if sku.strip()))
    problems: dict[str, list[str]] = {}
    if not wanted:
        problems[""] = [_("Select at least one SKU.")]
    elif len(wanted) > MAX_BULK_SKUS:
        problems[""] = [_("Link at most %(n)s SKUs at once.") % {"n": MAX_BULK_SKUS}]
    # The supplier side is the same for every SKU: checked once, against the first.
    sample = replace(
        data, store_id=None, channel_product_id="", channel_variant_id="", sku=wanted[0] if wanted else "-"
    )
    for field, messages in link_problems(sample).items():
        problems.setdefault(field, []).extend(messages)
    if problems:
        raise LinkInvalid(problems)
    supplier = {name: getattr(data, name) for name in SUPPLIER_FIELDS}
    values = {name: getattr(data, name) for name in LINK_FIELDS if name not in KEY_FIELDS}
    with transaction.atomic():
        sku_links = ProductLink.objects.filter(account=account, channel_variant_id="", channel_product_id="")
        taken = set(sku_links.filter(sku__in=wanted).values_list("sku", flat=True))
        new = [sku for sku in wanted if sku not in taken]
        # ON CONFLICT DO NOTHING: a SKU linked by a concurrent writer is skipped, not a 500.
        ProductLink.objects.bulk_create(
            [ProductLink(account=account, store=None, sku=sku, **values) for sku in new], ignore_conflicts=True
        )
        # ignore_conflicts does not say which rows were written: read back which are ours.
        created = set(sku_links.filter(sku__in=new, **supplier).values_list("sku", flat=True))
    return BulkLinkResult(
        created=tuple(sku for sku in new if sku in created),
        already_linked=tuple(sku for sku in wanted if sku not in created),
    )


def link_data_of(link: ProductLink) -> LinkData:
    return LinkData(**{name: getattr(link, name) for name in LINK_FIELDS})


def links_by_key(
    *, account: Account, keys: Iterable[tuple[str, int | None, str]]
) -> dict[tuple[str, int | None, str], ProductLink]:
    """The account's links with these keys, by key, in one query (the CSV import's upsert)."""
    wanted = set(keys)
    values: dict[str, set[str]] = {"variant": set(), "product": set(), "sku": set()}
    for kind, _store, value in wanted:
        values[kind].add(value)
    candidates = Q(pk__in=[])
    if values["variant"]:
        candidates |= Q(channel_variant_id__in=values["variant"])
    if values["product"]:
        candidates |= Q(channel_variant_id="", channel_product_id__in=values["product"])
    if values["sku"]:
        candidates |= Q(channel_variant_id="", channel_product_id="", sku__in=values["sku"])
    found: dict[tuple[str, int | None, str], ProductLink] = {}
    for link in ProductLink.objects.filter(candidates, account=account).order_by("id"):
        key = link_key(link_data_of(link))
        if key in wanted:
            found.setdefault(key, link)
    return found
