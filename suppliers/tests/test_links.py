"""The product links pages: create, edit, delete, validation, the key already linked (also when two
writers race), the form prefilled from an order line, bulk-linking SKUs, the list's filters and
paging, roles and tenant isolation (another account's link, line or store: 404, nothing changed)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import OrderLine
from suppliers.models import ProductLink
from suppliers.selectors_links import unlinked_skus
from suppliers.services.link_edit import (
    LinkData,
    LinkKeyTaken,
    product_link_create,
)
from tests.factories import OrderFactory, line

pytestmark = pytest.mark.django_db

ALI = {"provider": "aliexpress", "supplier_product_id": "1005006454451334", "supplier_sku": "14:193#Black;5:100014064"}


def form_data(**changes: Any) -> dict[str, str]:
    data = {
        "store": "",
        "channel_variant_id": "",
        "channel_product_id": "",
        "sku": "EB-1",
        "title": "Wireless Earbuds",
        **ALI,
        "unit_cost": "4.20",
        "cost_currency": "usd",
        "shipping_method": "CAINIAO_STANDARD",
        "backup_provider": "",
        "backup_product_id": "",
        "backup_sku": "",
    }
    data.update(changes)
    return {key: str(value) for key, value in data.items()}


def make_link(account: Any, **fields: Any) -> ProductLink:
    values = {"sku": "EB-1", "title": "Wireless Earbuds", **ALI, **fields}
    return ProductLink.objects.create(account=account, **values)


def html(response: Any) -> str:
    return response.content.decode()


# --- Create -----------------------------------------------------------------------------------


def test_staff_create_a_link_from_the_form(member_client: Client, account: Any, store: Any) -> None:
    response = member_client.post(
        "/links/new/", form_data(store=store.pk, channel_variant_id="39072856", channel_product_id="632910392")
    )
    assert response.status_code == 302
    assert response["Location"] == "/links/"
    link = ProductLink.objects.get()
    assert (link.account_id, link.store_id, link.channel_variant_id, link.channel_product_id, link.sku) == (
        account.pk,
        store.pk,
        "39072856",
        "632910392",
        "EB-1",
    )
    assert (link.provider, link.supplier_product_id, link.supplier_sku) == (
        "aliexpress",
        "1005006454451334",
        "14:193#Black;5:100014064",
    )
    assert (link.unit_cost, link.cost_currency, link.shipping_method) == (Decimal("4.20"), "USD", "CAINIAO_STANDARD")
    listing = member_client.get("/links/")
    assert "Wireless Earbuds" in html(listing)
    assert "is linked." in html(listing)


def test_create_goes_back_to_a_safe_next_only(member_client: Client) -> None:
    response = member_client.post("/links/new/", {**form_data(), "next": "/orders/?status=new"})
    assert response["Location"] == "/orders/?status=new"
    response = member_client.post("/links/new/", {**form_data(sku="EB-2"), "next": "https://evil.example/"})
    assert response["Location"] == "/links/"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"supplier_product_id": "10050064-54451334"}, "An AliExpress product id is digits only"),
        ({"supplier_product_id": "１２３"}, "An AliExpress product id is digits only"),
        (
            {"provider": "cj", "supplier_product_id": "", "supplier_sku": ""},
            "Enter the CJdropshipping variant id (vid).",
        ),
        ({"provider": "cj", "supplier_product_id": "CJP", "supplier_sku": "CJV"}, "buys by variant id alone"),
        ({"unit_cost": "-1"}, "Ensure this value is greater than or equal to 0"),
        ({"unit_cost": "abc"}, "Enter a number."),
        ({"cost_currency": "U$"}, "A currency is three capital letters"),
        ({"sku": ""}, "Say what is bought: a channel variant id, a channel product id or a SKU."),
        ({"provider": "ebay"}, "Select a valid choice."),
        ({"supplier_product_id": ""}, "Enter the supplier&#x27;s product id."),
        ({"backup_product_id": "123"}, "Choose the backup supplier of this backup product."),
        ({"backup_provider": "cj", "backup_product_id": ""}, "Enter the CJdropshipping variant id (vid)."),
        ({"backup_provider": "cj", "backup_product_id": "V1", "backup_sku": "S"}, "buys by variant id alone"),
        ({"backup_provider": "aliexpress", "backup_product_id": "x1"}, "An AliExpress product id is digits only"),
        ({"sku": "x" * 129}, "Ensure this value has at most 128 characters"),
        ({"sku": "EB\n1"}, "Remove the line breaks and control characters."),
        ({"supplier_sku": "14:193#Light Blue\x00"}, "Null characters are not allowed."),
    ],
)
def test_an_invalid_link_is_refused_with_a_clear_message(member_client: Client, changes: dict, message: str) -> None:
    response = member_client.post("/links/new/", form_data(**changes))
    assert response.status_code == 422
    assert message in html(response)
    assert not ProductLink.objects.exists()


def test_a_store_of_another_account_is_not_a_choice(member_client: Client, other_store: Any) -> None:
    response = member_client.post("/links/new/", form_data(store=other_store.pk, channel_variant_id="1"))
    assert response.status_code == 422
    assert "Select a valid choice" in html(response)
    assert not ProductLink.objects.exists()


@pytest.mark.parametrize("where", ["same store", "any store"])
def test_a_key_already_linked_is_a_clear_error_not_a_500(
    member_client: Client, account: Any, store: Any, where: str
) -> None:
    store_id = store.pk if where == "same store" else None
    existing = make_link(account, store_id=store_id, channel_variant_id="39072856", sku="")
    response = member_client.post(
        "/links/new/",
        form_data(store=store_id or "", channel_variant_id="39072856", supplier_product_id="42", supplier_sku=""),
    )
    assert response.status_code == 422
    assert "This product is already linked (to AliExpress 1005006454451334): edit that link instead." in html(response)
    assert f'href="/links/{existing.pk}/" data-existing-link' in html(response)
    assert list(ProductLink.objects.values_list("supplier_product_id", flat=True)) == ["1005006454451334"]


def test_a_sku_link_is_one_per_account_whatever_the_store(member_client: Client, account: Any, store: Any) -> None:
    make_link(account, store=store)
    response = member_client.post("/links/new/", form_data(store=""))
    assert response.status_code == 422
    assert "already linked" in html(response)
    assert ProductLink.objects.count() == 1


def test_another_account_may_link_the_same_sku(member_client: Client, other_account: Any) -> None:
    make_link(other_account)
    assert member_client.post("/links/new/", form_data()).status_code == 302
    assert ProductLink.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_writers_of_one_key_the_loser_gets_link_key_taken(account: Any) -> None:
    """The other writer's insert is not committed when our check runs: the unique index makes our
    insert wait, then fail; the service answers ``LinkKeyTaken`` with the winner, never IntegrityError."""
    inserted, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        try:
            with transaction.atomic():
                make_link(account, supplier_product_id="111")
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert inserted.wait(10)
    timer = threading.Timer(0.5, release.set)  # commits while our insert waits on the index
    timer.start()
    try:
        with pytest.raises(LinkKeyTaken) as taken:
            product_link_create(account=account, data=LinkData(sku="EB-1", **ALI))
    finally:
        release.set()
        thread.join(10)
        timer.cancel()
    assert taken.value.existing is not None
    assert taken.value.existing.supplier_product_id == "111"
    assert list(ProductLink.objects.values_list("supplier_product_id", flat=True)) == ["111"]


# --- Prefilled from an order line ---------------------------------------------------------------


def order_line(store: Any, **fields: Any) -> OrderLine:
    order = OrderFactory(store=store, number=fields.pop("number", "#1001"), lines=(line("Desk Lamp", sku="DL-9"),))
    order_line = order.lines.get()
    OrderLine.objects.filter(pk=order_line.pk).update(**fields)
    order_line.refresh_from_db()
    return order_line


def test_link_product_from_an_order_line_prefills_the_form(member_client: Client, store: Any) -> None:
    found = order_line(store, product_id="632910392", variant_id="39072856")
    url = reverse("suppliers:link_new") + f"?order_line={found.pk}&next=/orders/%3Fstatus%3Dnew"
    response = member_client.get(url)
    page = html(response)
    assert response.status_code == 200
    assert f'<option value="{store.pk}" selected>' in page
    assert 'name="channel_variant_id" value="39072856"' in page
    assert 'name="channel_product_id" value="632910392"' in page
    assert 'name="sku" value="DL-9"' in page
    assert 'name="title" value="Desk Lamp"' in page
    assert "From order #1001: Desk Lamp." in page
    assert '<input type="hidden" name="next" value="/orders/?status=new">' in page


def test_link_product_says_when_the_line_is_already_linked(member_client: Client, account: Any, store: Any) -> None:
    found = order_line(store, variant_id="77")
    existing = make_link(account, sku="", channel_variant_id="77")
    page = html(member_client.get(f"/links/new/?order_line={found.pk}"))
    assert "This line is already bought through a link." in page
    assert f"/links/{existing.pk}/" in page


@pytest.mark.parametrize("value", ["foreign", "0", "-1", "abc", "", "99999999999999999999999", "１"])
def test_link_product_with_another_accounts_or_no_line_is_404(
    member_client: Client, other_store: Any, value: str
) -> None:
    foreign = order_line(other_store, number="#B-1")
    line_id = str(foreign.pk) if value == "foreign" else value
    response = member_client.get(f"/links/new/?order_line={line_id}")
    assert response.status_code == 404
    assert "Desk Lamp" not in html(response)


# --- Edit and delete ----------------------------------------------------------------------------


def test_saving_an_edit_clears_the_unavailable_flag(member_client: Client, account: Any) -> None:
    link = make_link(account, unavailable_at=timezone.now(), unavailable_reason="SKU not available")
    page = html(member_client.get(f"/links/{link.pk}/"))
    assert "The supplier said this SKU is unavailable" in page
    assert 'name="supplier_product_id" value="1005006454451334"' in page
    response = member_client.post(f"/links/{link.pk}/", form_data(supplier_sku="14:193#White;5:100014064"))
    assert response.status_code == 302
    link.refresh_from_db()
    assert (link.supplier_sku, link.unavailable_at, link.unavailable_reason) == ("14:193#White;5:100014064", None, "")


def test_an_invalid_edit_changes_nothing(member_client: Client, account: Any) -> None:
    flagged_at = timezone.now()
    link = make_link(account, unavailable_at=flagged_at)
    response = member_client.post(f"/links/{link.pk}/", form_data(supplier_product_id="not digits"))
    assert response.status_code == 422
    link.refresh_from_db()
    assert (link.supplier_product_id, link.unavailable_at) == ("1005006454451334", flagged_at)


def test_an_edit_onto_another_links_key_is_refused(member_client: Client, account: Any) -> None:
    make_link(account, sku="EB-2")
    link = make_link(account)
    response = member_client.post(f"/links/{link.pk}/", form_data(sku="EB-2"))
    assert response.status_code == 422
    assert "already linked" in html(response)
    link.refresh_from_db()
    assert link.sku == "EB-1"


def test_another_accounts_link_is_404_and_unchanged(
    member_client: Client, owner_client: Client, other_account: Any
) -> None:
    foreign = make_link(other_account)
    assert member_client.get(f"/links/{foreign.pk}/").status_code == 404
    assert member_client.post(f"/links/{foreign.pk}/", form_data(sku="MINE")).status_code == 404
    assert owner_client.post(f"/links/{foreign.pk}/delete/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.sku == "EB-1"


def test_only_owners_delete_links(client: Client, user: Any, owner: Any, account: Any) -> None:
    link = make_link(account)
    client.force_login(user)
    assert client.post(f"/links/{link.pk}/delete/").status_code == 403
    assert f"/links/{link.pk}/delete/" not in html(client.get("/links/"))  # not offered to staff
    assert ProductLink.objects.filter(pk=link.pk).exists()
    client.force_login(owner)
    assert f"/links/{link.pk}/delete/" in html(client.get("/links/"))
    assert "Delete the link of Wireless Earbuds" in html(client.get(f"/links/{link.pk}/delete/"))
    response = client.post(f"/links/{link.pk}/delete/", {"next": "/links/?q=EB"})
    assert response["Location"] == "/links/?q=EB"
    assert not ProductLink.objects.filter(pk=link.pk).exists()


def test_posts_need_the_csrf_token(account: Any, user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    link = make_link(account)
    assert client.post("/links/new/", form_data(sku="EB-2")).status_code == 403
    assert client.post(f"/links/{link.pk}/", form_data(sku="EB-3")).status_code == 403
    assert client.post("/links/bulk/", {"skus": ["EB-1"], **ALI}).status_code == 403
    assert ProductLink.objects.count() == 1


# --- The list ----------------------------------------------------------------------------------


def test_the_list_filters_flags_and_pages(
    member_client: Client, account: Any, other_account: Any, store: Any, settings: Any
) -> None:
    settings.PRODUCT_LINKS_PAGE_SIZE = 2
    make_link(account, sku="EB-1", title="Wireless Earbuds")
    make_link(account, sku="DL-9", title="Desk Lamp", provider="cj", supplier_product_id="CJV")
    make_link(
        account, sku="MUG", title="Mug", store=store, unavailable_at=timezone.now(), unavailable_reason="Out of stock"
    )
    make_link(other_account, sku="SECRET", title="Other tenant's lamp")

    first = html(member_client.get("/links/"))
    assert first.count("data-link-id=") == 2
    assert "Mug" in first
    assert "Desk Lamp" in first
    assert "Other tenant" not in first
    assert 'data-flag="unavailable"' in first
    assert "Out of stock" in first
    assert "Only unavailable (1)" in first
    next_page = html(member_client.get("/links/?before=" + first.split("before=")[1].split('"')[0]))
    assert next_page.count("data-link-id=") == 1
    assert "Wireless Earbuds" in next_page

    assert "Desk Lamp" in html(member_client.get("/links/?q=dl-9"))
    assert html(member_client.get("/links/?q=lamp")).count("data-link-id=") == 1
    only_cj = html(member_client.get("/links/?provider=cj"))
    assert only_cj.count("data-link-id=") == 1
    assert "Desk Lamp" in only_cj
    flagged = html(member_client.get("/links/?unavailable=1"))
    assert flagged.count("data-link-id=") == 1
    assert "Mug" in flagged
    assert html(member_client.get(f"/links/?store={store.pk}")).count("data-link-id=") == 1


def test_the_list_escapes_what_was_typed(member_client: Client, account: Any) -> None:
    make_link(account, title="<script>alert(1)</script>", sku='=HYPERLINK("http://x")')
    page = html(member_client.get("/links/"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("query", ["store=abc", "before=-3", "provider=ebay", "q=" + "x" * 101])
def test_a_bad_filter_is_400(member_client: Client, query: str) -> None:
    assert member_client.get(f"/links/?{query}").status_code == 400


def test_another_accounts_store_filter_is_404(member_client: Client, other_store: Any) -> None:
    assert member_client.get(f"/links/?store={other_store.pk}").status_code == 404


def test_the_list_asks_a_constant_number_of_queries(
    member_client: Client, account: Any, store: Any, django_assert_max_num_queries: Any
) -> None:
    for number in range(30):
        make_link(account, sku=f"S-{number}", store=store if number % 2 else None)
    with django_assert_max_num_queries(12):
        assert member_client.get("/links/").status_code == 200


# --- Bulk-link by SKU ---------------------------------------------------------------------------


def test_unlinked_skus_are_those_no_link_buys(account: Any, store: Any, other_store: Any) -> None:
    OrderFactory(store=store, number="#1", lines=(line("Earbuds", sku="EB-1"), line("Lamp", sku="DL-9")))
    OrderFactory(store=store, number="#2", lines=(line("Mug", sku="MUG"), line("Case", sku="CASE")))
    OrderFactory(store=other_store, number="#B1", lines=(line("Foreign", sku="FOREIGN"),))
    OrderLine.objects.filter(sku="MUG").update(variant_id="555")
    make_link(account, sku="EB-1")  # linked by SKU
    make_link(account, sku="", store=store, channel_variant_id="555")  # MUG linked by its variant
    assert sorted(row.sku for row in unlinked_skus(account=account)) == ["CASE", "DL-9"]
    assert [row.sku for row in unlinked_skus(account=account, q="lam")] == ["DL-9"]


def test_bulk_link_checked_skus_to_one_supplier_product(member_client: Client, account: Any, store: Any) -> None:
    OrderFactory(store=store, number="#1", lines=(line("Lamp red", sku="DL-R"), line("Lamp blue", sku="DL-B")))
    OrderFactory(store=store, number="#2", lines=(line("Mug", sku="MUG"),))
    page = html(member_client.get("/links/bulk/"))
    assert 'data-sku="DL-R"' in page
    assert 'data-sku="MUG"' in page
    response = member_client.post(
        "/links/bulk/",
        {
            "skus": ["DL-R", "DL-B"],
            "provider": "cj",
            "supplier_product_id": "CJV-1",
            "unit_cost": "3.10",
            "cost_currency": "USD",
            "shipping_method": "CJPacket Ordinary",
        },
    )
    assert response.status_code == 302
    links = ProductLink.objects.order_by("sku")
    assert [(link.sku, link.store_id, link.provider, link.supplier_product_id, link.unit_cost) for link in links] == [
        ("DL-B", None, "cj", "CJV-1", Decimal("3.10")),
        ("DL-R", None, "cj", "CJV-1", Decimal("3.10")),
    ]
    after = member_client.get("/links/bulk/", follow=True)
    assert "2 SKUs linked." in html(after)
    assert 'data-sku="DL-R"' not in html(after)
    assert 'data-sku="MUG"' in html(after)


@pytest.mark.parametrize("skus", [["NOT-ON-ORDERS"], ["FOREIGN"], []])
def test_bulk_link_takes_only_skus_of_the_accounts_orders(
    member_client: Client, store: Any, other_store: Any, skus: list[str]
) -> None:
    OrderFactory(store=store, number="#1", lines=(line("Lamp", sku="DL-9"),))
    OrderFactory(store=other_store, number="#B1", lines=(line("Foreign", sku="FOREIGN"),))
    response = member_client.post("/links/bulk/", {"skus": skus, **ALI, "cost_currency": "USD"})
    assert response.status_code == 422
    assert ("is not an unlinked SKU of your orders" if skus else "This field is required.") in html(response)
    assert not ProductLink.objects.exists()


def test_bulk_link_checks_the_supplier_side(member_client: Client, store: Any) -> None:
    OrderFactory(store=store, number="#1", lines=(line("Lamp", sku="DL-9"),))
    response = member_client.post(
        "/links/bulk/", {"skus": ["DL-9"], "provider": "cj", "supplier_product_id": "", "cost_currency": "USD"}
    )
    assert response.status_code == 422
    assert "Enter the CJdropshipping variant id (vid)." in html(response)
    assert not ProductLink.objects.exists()


def test_bulk_link_leaves_a_sku_linked_meanwhile(member_client: Client, account: Any, store: Any) -> None:
    OrderFactory(store=store, number="#1", lines=(line("Lamp", sku="DL-9"), line("Mug", sku="MUG")))
    make_link(account, sku="MUG", supplier_product_id="999")  # linked in another tab after the page was shown
    response = member_client.post("/links/bulk/", {"skus": ["DL-9", "MUG"], **ALI, "cost_currency": "USD"}, follow=True)
    assert "1 SKU linked. Already linked meanwhile, left as they were: MUG." in html(response)
    assert dict(ProductLink.objects.values_list("sku", "supplier_product_id")) == {
        "DL-9": "1005006454451334",
        "MUG": "999",
    }


@pytest.mark.postgres
def test_two_any_store_links_for_one_variant_cannot_both_exist(account: Any) -> None:
    from django.db import IntegrityError, transaction

    fields = {
        "account": account,
        "store": None,
        "channel_variant_id": "4381",
        "provider": "cj",
        "supplier_product_id": "V-1",
    }
    ProductLink.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductLink.objects.create(**{**fields, "supplier_product_id": "V-2"})
