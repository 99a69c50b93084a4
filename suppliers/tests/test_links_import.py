"""The CSV import of product links: a good file, re-imported (updates, never doubles), bad rows
listed by row number while the good ones are imported, and hostile files (too large, too many
rows, not UTF-8, binary, broken CSV, formulas, another account's store) refused or stored as text."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from suppliers.models import ProductLink
from suppliers.services.link_import import (
    CHUNK_ROWS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    ImportRefused,
    product_links_import,
)
from suppliers.views_links import EXAMPLE_CSV, MULTIPART_OVERHEAD

pytestmark = pytest.mark.django_db

HEADER = (
    "store,channel_variant_id,channel_product_id,sku,title,supplier,supplier_product_id,supplier_sku,"
    "unit_cost,cost_currency,shipping_method\n"
)
GOOD = (
    HEADER
    + ",,,EB-1,Wireless Earbuds,aliexpress,1005006454451334,14:193#Black;5:100014064,4.20,USD,CAINIAO_STANDARD\n"
    + "A Shopify,39072856,632910392,,IPod Nano,cj,CJV-GREEN,,12.00,usd,CJPacket Ordinary\n"
    + ",,,DL-9,Desk Lamp,AliExpress,1005001111,,,,\n"
)


def links(account: Any) -> list[tuple]:
    return list(
        ProductLink.objects.filter(account=account)
        .order_by("id")
        .values_list(
            "store__name",
            "channel_variant_id",
            "channel_product_id",
            "sku",
            "title",
            "provider",
            "supplier_product_id",
            "supplier_sku",
            "unit_cost",
            "cost_currency",
            "shipping_method",
        )
    )


def test_a_good_file_is_imported_and_importing_it_again_changes_nothing(account: Any, store: Any) -> None:
    result = product_links_import(account=account, data=GOOD.encode())
    assert (result.rows, result.created, result.updated, result.unchanged, result.errors) == (3, 3, 0, 0, [])
    assert links(account) == [
        (
            None,
            "",
            "",
            "EB-1",
            "Wireless Earbuds",
            "aliexpress",
            "1005006454451334",
            "14:193#Black;5:100014064",
            Decimal("4.20"),
            "USD",
            "CAINIAO_STANDARD",
        ),
        (
            "A Shopify",
            "39072856",
            "632910392",
            "",
            "IPod Nano",
            "cj",
            "CJV-GREEN",
            "",
            Decimal("12.00"),
            "USD",
            "CJPacket Ordinary",
        ),
        (None, "", "", "DL-9", "Desk Lamp", "aliexpress", "1005001111", "", None, "USD", ""),
    ]
    again = product_links_import(account=account, data=GOOD.encode())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert ProductLink.objects.count() == 3


def test_re_importing_updates_and_clears_the_flag_only_when_the_supplier_side_changes(account: Any, store: Any) -> None:
    product_links_import(account=account, data=GOOD.encode())
    flagged_at = timezone.now()
    ProductLink.objects.update(unavailable_at=flagged_at, unavailable_reason="SKU gone")
    changed = (
        HEADER
        + ",,,EB-1,Wireless Earbuds,aliexpress,1005006454451334,14:193#White;5:100014064,4.20,USD,CAINIAO_STANDARD\n"
        + "A Shopify,39072856,632910392,,IPod Nano,cj,CJV-GREEN,,9.99,USD,CJPacket Ordinary\n"
    )
    result = product_links_import(account=account, data=changed.encode())
    assert (result.created, result.updated, result.unchanged) == (0, 2, 0)
    state = dict(ProductLink.objects.values_list("title", "unavailable_at"))
    # a new sku_attr is an answer to "SKU gone"; a new price for the same SKU is not
    assert state == {"Wireless Earbuds": None, "IPod Nano": flagged_at, "Desk Lamp": flagged_at}
    assert ProductLink.objects.get(title="IPod Nano").unit_cost == Decimal("9.99")


def test_bad_rows_are_listed_by_row_number_and_the_good_ones_imported(
    account: Any, store: Any, other_store: Any
) -> None:
    data = (
        HEADER
        + ",,,OK-1,Fine,aliexpress,123,,1.00,USD,\n"  # row 2
        + ",,,BAD-1,Letters,aliexpress,12ab,,1.00,USD,\n"  # row 3
        + ",,,BAD-2,Pid and vid,cj,CJP,CJV,1.00,USD,\n"  # row 4: CJ buys by the vid alone
        + ",,,BAD-3,Negative,aliexpress,123,,-2,USD,\n"  # row 5
        + ',,,BAD-4,Comma,aliexpress,123,,"1,50",USD,\n'  # row 6
        + ",,,,No key,aliexpress,123,,,USD,\n"  # row 7
        + ",,,BAD-5,Who,ebay,123,,,USD,\n"  # row 8
        + "B Shopify,,,BAD-6,Foreign store,aliexpress,123,,,USD,\n"  # row 9: another account's store
        + ",,,OK-1,Twice,aliexpress,456,,,USD,\n"  # row 10
        + "\n"  # row 11: blank, skipped
        + ",,,BAD-7,Money,aliexpress,123,,1.00,DOLLARS,\n"  # row 12
        + ",,,OK-2,Fine too,temu,T-1,,0,EUR,\n"  # row 13
    )
    result = product_links_import(account=account, data=data.encode())
    assert [(error.row, error.message) for error in result.errors] == [
        (3, "supplier_product_id: An AliExpress product id is digits only (e.g. 1005006454451334)."),
        (
            4,
            "supplier_sku: CJdropshipping buys by variant id alone: put the vid in the product id and "
            "leave this empty.",
        ),
        (5, "unit_cost: The unit cost is zero or more (and below 10,000,000,000)."),
        (6, "unit_cost must be a number with at most 2 decimals, with a dot (12.50)"),
        (7, "Say what is bought: a channel variant id, a channel product id or a SKU."),
        (8, "supplier must be aliexpress, cj or temu"),
        (9, "no store of this account is named B Shopify"),
        (10, "the same product as row 2"),
        (12, "cost_currency is longer than 3 characters"),
    ]
    assert (result.rows, result.created, result.error_count) == (11, 2, 9)
    assert sorted(ProductLink.objects.values_list("sku", flat=True)) == ["OK-1", "OK-2"]
    assert not ProductLink.objects.filter(account=other_store.account).exists()


def test_a_large_file_is_written_in_chunks_and_re_imported_in_place(account: Any) -> None:
    rows = CHUNK_ROWS * 2 + 7
    data = "sku,supplier,supplier_product_id\n" + "".join(f"S-{n},aliexpress,{1000 + n}\n" for n in range(rows))
    result = product_links_import(account=account, data=data.encode())
    assert (result.rows, result.created, result.error_count) == (rows, rows, 0)
    data = "sku,supplier,supplier_product_id\n" + "".join(f"S-{n},aliexpress,{9000 + n}\n" for n in range(rows))
    again = product_links_import(account=account, data=data.encode())
    assert (again.created, again.updated) == (0, rows)
    assert ProductLink.objects.count() == rows
    assert ProductLink.objects.get(sku="S-0").supplier_product_id == "9000"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("Wireless Earbuds,café\n".encode("latin-1"), "The file is not UTF-8 text."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "The file is not UTF-8 text."),
        (b"sku,supplier,supplier_product_id\nA\x00,aliexpress,1\n", "This is not a CSV text file"),
        (b"", "The file is empty."),
        (b"sku,title\nEB-1,x\n", "missing: supplier, supplier_product_id"),
        (b"title,supplier,supplier_product_id\nx,aliexpress,1\n", "Add at least one of the columns"),
        (b"sku,sku,supplier,supplier_product_id\n", "The column sku appears twice"),
        (b'sku,supplier,supplier_product_id\n"EB-1,aliexpress,1\n', "The file is not valid CSV"),
        (b'sku,supplier,supplier_product_id\n"EB"-1,aliexpress,1\n', "The file is not valid CSV"),
    ],
)
def test_an_unreadable_file_is_refused_whole(account: Any, data: bytes, message: str) -> None:
    with pytest.raises(ImportRefused, match=message.replace("(", r"\(")):
        product_links_import(account=account, data=data)
    assert not ProductLink.objects.exists()


def test_too_many_rows_is_refused_whole(account: Any) -> None:
    data = "sku,supplier,supplier_product_id\n" + "".join(f"S{n},temu,1\n" for n in range(MAX_IMPORT_ROWS + 1))
    assert len(data) < MAX_IMPORT_BYTES
    with pytest.raises(ImportRefused, match="more than 20,000 rows"):
        product_links_import(account=account, data=data.encode())
    assert not ProductLink.objects.exists()


def test_a_file_over_the_size_cap_is_refused(account: Any, member_client: Client) -> None:
    data = b"sku,supplier,supplier_product_id\n" + b"x" * MAX_IMPORT_BYTES
    with pytest.raises(ImportRefused, match="larger than 2 MB"):
        product_links_import(account=account, data=data)
    # Through the page: just over the cap, the form says so; far over, the body is refused
    # before it is read (413). Nothing imported either way.
    response = member_client.post("/links/import/", {"file": SimpleUploadedFile("big.csv", data, "text/csv")})
    assert response.status_code == 422
    assert "larger than 2 MB" in response.content.decode()
    huge = data + b"x" * (MULTIPART_OVERHEAD + 1)
    response = member_client.post("/links/import/", {"file": SimpleUploadedFile("huge.csv", huge, "text/csv")})
    assert response.status_code == 413
    assert "larger than 2 MB" in response.content.decode()
    assert not ProductLink.objects.exists()


def test_cells_are_stored_as_text_never_run(account: Any, member_client: Client) -> None:
    data = (
        "sku,title,supplier,supplier_product_id,shipping_method\n"
        '=1+1,"=HYPERLINK(""http://evil.example"",""click"")",aliexpress,123,@SUM(A1)\n'
        '"-2+3","<img src=x onerror=alert(1)>",aliexpress,124,+cmd\n'
    )
    result = product_links_import(account=account, data=data.encode())
    assert (result.created, result.error_count) == (2, 0)
    assert list(ProductLink.objects.order_by("id").values_list("sku", "title", "shipping_method")) == [
        ("=1+1", '=HYPERLINK("http://evil.example","click")', "@SUM(A1)"),
        ("-2+3", "<img src=x onerror=alert(1)>", "+cmd"),
    ]
    page = member_client.get("/links/").content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_semicolons_a_bom_crlf_and_header_case_are_read(account: Any) -> None:
    data = "\ufeffSKU;Supplier;Supplier Product ID;Unit_Cost;Notes\r\nEB-1;aliexpress;123;4.50;ours\r\n"
    result = product_links_import(account=account, data=data.encode())
    assert (result.created, result.error_count, result.ignored_columns) == (1, 0, ("notes",))
    assert ProductLink.objects.get().unit_cost == Decimal("4.50")


def test_a_store_named_by_domain_or_ambiguous_name(account: Any, store: Any) -> None:
    from tests.factories import StoreFactory

    StoreFactory(account=account, name="Second", domain="a shopify")  # a name that is another store's domain
    data = (
        "store,channel_variant_id,supplier,supplier_product_id\n"
        f"{store.domain.upper()},1,aliexpress,1\n"
        "a shopify,2,aliexpress,2\n"
    )
    result = product_links_import(account=account, data=data.encode())
    assert [(error.row, error.message) for error in result.errors] == [
        (3, "two stores are named a shopify: use the store's domain")
    ]
    assert ProductLink.objects.get().store_id == store.pk


def test_the_import_page_lists_errors_and_counts(member_client: Client, account: Any) -> None:
    data = "sku,supplier,supplier_product_id\nEB-1,aliexpress,123\nEB-2,aliexpress,abc\n"
    response = member_client.post(
        "/links/import/", {"file": SimpleUploadedFile("links.csv", data.encode(), "text/csv")}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-created="1"' in page
    assert 'data-errors="1"' in page
    assert '<li data-row="3">Row 3: supplier_product_id: An AliExpress product id is digits only' in page
    refused = member_client.post(
        "/links/import/", {"file": SimpleUploadedFile("links.csv", "é".encode("latin-1"), "text/csv")}
    )
    assert refused.status_code == 422
    assert "The file is not UTF-8 text." in refused.content.decode()
    assert list(ProductLink.objects.values_list("sku", flat=True)) == ["EB-1"]


def test_the_import_needs_the_csrf_token(account: Any, user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    data = b"sku,supplier,supplier_product_id\nEB-1,aliexpress,123\n"
    response = client.post("/links/import/", {"file": SimpleUploadedFile("links.csv", data, "text/csv")})
    assert response.status_code == 403
    assert not ProductLink.objects.exists()


def test_the_example_file_imports_cleanly(account: Any, store: Any, member_client: Client) -> None:
    store.name = "My Shopify"
    store.save(update_fields=["name"])
    downloaded = member_client.get("/links/import/example.csv")
    assert downloaded["Content-Type"] == "text/csv; charset=utf-8"
    assert downloaded.content.decode() == EXAMPLE_CSV
    result = product_links_import(account=account, data=downloaded.content)
    assert (result.created, result.error_count) == (2, 0)
    # and it is the example docs/suppliers.md shows
    docs = (Path(settings.BASE_DIR) / "docs" / "suppliers.md").read_text()
    assert f"```csv\n{EXAMPLE_CSV}```" in docs


@pytest.mark.parametrize("cost", ["1e30", "99999999999999999999999999999", "1E+10", "NaN", "sNaN", "-Infinity"])
def test_a_cost_no_price_column_holds_is_a_row_error_not_a_crash(account: Any, cost: str) -> None:
    data = HEADER + f",,,HUGE-1,Huge,aliexpress,123,,{cost},USD,\n"
    result = product_links_import(account=account, data=data.encode())
    assert [error.row for error in result.errors] == [2]
    assert not ProductLink.objects.exists()
