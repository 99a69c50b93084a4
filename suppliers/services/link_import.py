"""Product links from a CSV catalogue: every row checked, the valid ones written, re-importing updates.

Decisions:
- The whole file is refused (nothing written) when it cannot be read as a whole: larger than
  ``MAX_IMPORT_BYTES``, more than ``MAX_IMPORT_ROWS`` rows, not UTF-8, not CSV, a required
  column missing. Otherwise each bad row is listed with its row number (the header is row 1,
  as a spreadsheet shows it) and the valid rows are imported.
- Valid rows are written ``CHUNK_ROWS`` at a time, one transaction per chunk, so a large file
  holds no lock for long; a chunk that loses a race with another writer of the same key is
  read again and written once more.
- A row is matched to an existing link by its key (the variant, else the product, with the
  store; else the SKU): the link is updated, so importing the same file twice changes nothing
  the second time. Two rows with the same key in one file: the second is an error.
- Cells are stored as text, never evaluated: a cell starting with ``=`` is just text here (the
  pages escape it). Nothing exports these cells to a spreadsheet.
- An update that changes a flagged link's supplier product or SKU clears its "unavailable"
  flag; the same supplier values keep it flagged (the SKU is still gone).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from suppliers.enums import SupplierProvider
from suppliers.models import ProductLink
from suppliers.services.link_edit import (
    LINK_FIELDS,
    SUPPLIER_FIELDS,
    LinkData,
    link_key,
    link_problems,
    links_by_key,
)

MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
CHUNK_ROWS = 500
MAX_ERRORS_LISTED = 200

# The columns, in the order the example file has them; ``supplier`` and ``supplier_product_id``
# are required, and at least one of ``channel_variant_id``, ``channel_product_id``, ``sku``.
COLUMNS = (
    "store",
    "channel_variant_id",
    "channel_product_id",
    "sku",
    "title",
    "supplier",
    "supplier_product_id",
    "supplier_sku",
    "unit_cost",
    "cost_currency",
    "shipping_method",
    "backup_supplier",
    "backup_product_id",
    "backup_sku",
)
REQUIRED_COLUMNS = ("supplier", "supplier_product_id")
KEY_COLUMNS = ("channel_variant_id", "channel_product_id", "sku")
# Column → LinkData field, where the names differ.
_FIELD_OF = {"supplier": "provider", "backup_supplier": "backup_provider"}
_SUPPLIER_NAMES = {
    "aliexpress": SupplierProvider.ALIEXPRESS,
    "cj": SupplierProvider.CJ,
    "cjdropshipping": SupplierProvider.CJ,
    "temu": SupplierProvider.TEMU,
}
_TEXT_LIMITS: dict[str, int] = {
    column: int(ProductLink._meta.get_field(_FIELD_OF.get(column, column)).max_length or 0)  # type: ignore[union-attr]
    for column in COLUMNS
    if column not in ("store", "unit_cost", "supplier", "backup_supplier")
}


class ImportRefused(Exception):
    """The file as a whole cannot be imported; nothing was written. ``str()`` says why and what to do."""


@dataclass(frozen=True)
class RowError:
    row: int
    message: str


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    ignored_columns: tuple[str, ...] = ()

    def add_error(self, row: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(RowError(row=row, message=message))


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(
            _("The file is not UTF-8 text. Save it as “CSV UTF-8” (Excel) or with UTF-8 encoding and import it again.")
        ) from None
    if "\x00" in text:
        raise ImportRefused(_("This is not a CSV text file (it holds binary data)."))
    return text


def _delimiter(text: str) -> str:
    """Comma, or the semicolon or tab spreadsheets in some locales write instead."""
    header = text.split("\n", 1)[0]
    for candidate in (",", ";", "\t"):
        if candidate in header:
            return candidate
    return ","


def _header(cells: list[str]) -> tuple[dict[str, int], tuple[str, ...]]:
    names = [cell.strip().lower().replace(" ", "_") for cell in cells]
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen and name in COLUMNS:
            raise ImportRefused(_("The column %(name)s appears twice in the first row.") % {"name": name})
        seen.setdefault(name, index)
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]
    if missing:
        raise ImportRefused(
            _("The first row must name the columns; missing: %(columns)s. The columns are described on this page.")
            % {"columns": ", ".join(missing)}
        )
    if not any(name in seen for name in KEY_COLUMNS):
        raise ImportRefused(_("Add at least one of the columns channel_variant_id, channel_product_id or sku."))
    ignored = tuple(name for name in names if name and name not in COLUMNS)
    return {name: index for name, index in seen.items() if name in COLUMNS}, ignored


def _read_rows(text: str) -> tuple[dict[str, int], tuple[str, ...], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, None)
        if header is None:
            raise ImportRefused(_("The file is empty."))
        columns, ignored = _header(header)
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                raise ImportRefused(
                    _("The file has more than %(n)s rows: split it into smaller files.") % {"n": f"{MAX_IMPORT_ROWS:,}"}
                )
            rows.append((number, cells))
    except csv.Error as error:
        raise ImportRefused(
            _("The file is not valid CSV near line %(line)s (%(error)s).") % {"line": reader.line_num, "error": error}
        ) from None
    return columns, ignored, rows


class _StoreNames:
    """A store named by its name or domain (case-insensitive); a name two stores share is ambiguous."""

    def __init__(self, account: Account) -> None:
        self.by_name: dict[str, set[int]] = {}
        for pk, name, domain in account.stores.values_list("pk", "name", "domain"):
            for label in {name.strip().casefold(), domain.strip().casefold()} - {""}:
                self.by_name.setdefault(label, set()).add(pk)

    def resolve(self, value: str) -> int | None:
        found = self.by_name.get(value.casefold(), set())
        if not found:
            raise ValueError(_("no store of this account is named %(name)s") % {"name": value[:100]})
        if len(found) > 1:
            raise ValueError(_("two stores are named %(name)s: use the store's domain") % {"name": value[:100]})
        return next(iter(found))


def _row_data(cells: list[str], columns: dict[str, int], stores: _StoreNames) -> tuple[LinkData | None, list[str]]:
    """The link a row says, or None with what is wrong with it (in the merchant's words)."""
    value = {name: (cells[index].strip() if index < len(cells) else "") for name, index in columns.items()}
    problems: list[str] = []
    values: dict[str, Any] = {}
    for column, limit in _TEXT_LIMITS.items():
        text = value.get(column, "")
        if len(text) > limit:
            problems.append(_("%(column)s is longer than %(n)s characters") % {"column": column, "n": limit})
        values[_FIELD_OF.get(column, column)] = text
    values["cost_currency"] = (values.get("cost_currency") or "USD").upper()
    for column in ("supplier", "backup_supplier"):
        name = value.get(column, "")
        provider = _SUPPLIER_NAMES.get(name.lower(), "") if name else ""
        if name and not provider:
            problems.append(_("%(column)s must be aliexpress, cj or temu") % {"column": column})
        values[_FIELD_OF[column]] = provider
    cost_text = value.get("unit_cost", "")
    values["unit_cost"] = None
    if cost_text:
        try:
            cost = Decimal(cost_text)
            # Above what a price column holds (12 digits), quantize itself fails: refused as a row error.
            exact = cost.is_finite() and abs(cost) < Decimal("1e10") and cost == cost.quantize(Decimal("0.01"))
        except InvalidOperation:
            cost, exact = None, False
        if cost is None or not exact:
            problems.append(_("unit_cost must be a number with at most 2 decimals, with a dot (12.50)"))
        else:
            values["unit_cost"] = cost
    store_name = value.get("store", "")
    values["store_id"] = None
    if store_name:
        try:
            values["store_id"] = stores.resolve(store_name)
        except ValueError as error:
            problems.append(str(error))
    if problems:
        return None, problems
    data = LinkData(**values)
    for column, messages in link_problems(data).items():
        problems.extend(f"{column}: {message}" if column else message for message in messages)
    return (None, problems) if problems else (data, [])


def product_links_import(*, account: Account, data: bytes) -> ImportResult:
    """Import a CSV catalogue of links for ``account`` (see the module's decisions)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRefused(
            _("The file is larger than %(mb)s MB: split it into smaller files.") % {"mb": MAX_IMPORT_BYTES // 2**20}
        )
    columns, ignored, rows = _read_rows(_decode(data))
    result = ImportResult(rows=len(rows), ignored_columns=ignored)
    stores = _StoreNames(account)
    valid: list[LinkData] = []
    first_row_of: dict[tuple[str, int | None, str], int] = {}
    for number, cells in rows:
        link, problems = _row_data(cells, columns, stores)
        if link is None:
            result.add_error(number, "; ".join(problems))
            continue
        key = link_key(link)
        if key in first_row_of:
            result.add_error(number, _("the same product as row %(row)s") % {"row": first_row_of[key]})
            continue
        first_row_of[key] = number
        valid.append(link)
    for start in range(0, len(valid), CHUNK_ROWS):
        chunk = valid[start : start + CHUNK_ROWS]
        try:
            counts = _write_chunk(account, chunk)
        except IntegrityError:  # another writer created one of these keys meanwhile: read again
            counts = _write_chunk(account, chunk)
        result.created += counts[0]
        result.updated += counts[1]
        result.unchanged += counts[2]
    return result


def _write_chunk(account: Account, chunk: list[LinkData]) -> tuple[int, int, int]:
    now = timezone.now()
    with transaction.atomic():
        existing = links_by_key(account=account, keys=[link_key(data) for data in chunk])
        new: list[ProductLink] = []
        changed: list[ProductLink] = []
        unchanged = 0
        for data in chunk:
            link = existing.get(link_key(data))
            if link is None:
                new.append(ProductLink(account=account, **{name: getattr(data, name) for name in LINK_FIELDS}))
                continue
            updates = {name: getattr(data, name) for name in LINK_FIELDS if getattr(link, name) != getattr(data, name)}
            if not updates:
                unchanged += 1
                continue
            if link.unavailable_at is not None and any(name in updates for name in SUPPLIER_FIELDS):
                link.unavailable_at, link.unavailable_reason = None, ""
            for name, new_value in updates.items():
                setattr(link, name, new_value)
            link.updated_at = now
            changed.append(link)
        ProductLink.objects.bulk_create(new)
        # Every field: the ones outside the key may change (a SKU link may move to another store).
        written = [name.removesuffix("_id") if name == "store_id" else name for name in LINK_FIELDS]
        ProductLink.objects.bulk_update(
            changed, [*written, "unavailable_at", "unavailable_reason", "updated_at"], batch_size=CHUNK_ROWS
        )
    return len(new), len(changed), unchanged
