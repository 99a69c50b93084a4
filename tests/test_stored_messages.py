"""A message stored by a worker (English) or during a request (its user's language) is shown in the
reader's language; a supplier's or channel's own words inside it stay as they came, marked as data."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from suppliers.services.protocol import order_issue_set
from suppliers.services.sync import ERROR_PREFIX
from tests.factories import OrderFactory
from zopi.stored_messages import shown, shown_text

REFUSED_ACCESS = "The supplier refused our access: reconnect the supplier account."
REPEAT = "The supplier refused a repeat of an order it may already have made (%(why)s)."
CHECKING = "The supplier did not answer clearly: we are checking with it."


def written(msgid: str, language: str = "en", **params: str) -> str:
    """What a writer running in ``language`` stores: the catalog's text, filled."""
    with translation.override(language):
        text = translation.gettext(msgid)
    return text % params if params else text


def read(text: str, language: str, limit: int | None = None) -> str:
    with translation.override(language):
        return str(shown(text, limit))


@pytest.mark.parametrize("language", ["fr", "ar", "de", "zh-hans", "pt-br"])
def test_a_workers_english_message_is_shown_in_the_readers_language(language: str) -> None:
    expected = written(REFUSED_ACCESS, language)
    assert expected != REFUSED_ACCESS  # the catalog translates it: the test can fail
    with translation.override(language):
        assert shown_text(written(REFUSED_ACCESS)) == expected


def test_a_message_stored_in_one_language_is_read_in_another() -> None:
    stored = written(CHECKING, "fr")
    with translation.override("de"):
        assert shown_text(stored) == translation.gettext(CHECKING)
    with translation.override("en"):
        assert shown_text(stored) == CHECKING


def test_the_suppliers_words_inside_stay_as_they_came_marked_as_data() -> None:
    stored = written(REPEAT, why="Stock <insuffisant> for SKU 12")
    html = read(stored, "it")
    with translation.override("it"):
        sentence = translation.gettext(REPEAT)
    head = sentence.split("%(why)s")[0]
    assert html.startswith(head.replace("'", "&#x27;"))
    assert '<bdi translate="no">Stock &lt;insuffisant&gt; for SKU 12</bdi>' in html


def test_a_message_that_is_not_ours_is_shown_as_data_and_escaped() -> None:
    assert read("Insufficient balance <b>now</b>", "fr") == (
        '<bdi translate="no">Insufficient balance &lt;b&gt;now&lt;/b&gt;</bdi>'
    )
    assert read("", "fr") == ""
    assert read(None, "fr") == ""  # type: ignore[arg-type]


def test_two_of_ours_in_a_row_are_read_sentence_by_sentence() -> None:
    stored = f"{written(CHECKING)} {written(REFUSED_ACCESS)}"
    with translation.override("es"):
        assert shown_text(stored) == f"{translation.gettext(CHECKING)} {translation.gettext(REFUSED_ACCESS)}"


def test_the_sync_prefix_is_ours_too() -> None:
    stored = f"{ERROR_PREFIX}{written(REFUSED_ACCESS)}"
    with translation.override("nl"):
        assert shown_text(stored) == f"{translation.gettext('Sync:')} {translation.gettext(REFUSED_ACCESS)}"
        assert translation.gettext("Sync:") != "Sync:"


def test_a_limit_cuts_the_shown_text_not_the_stored_one() -> None:
    with translation.override("fr"):
        whole = translation.gettext(REFUSED_ACCESS)
        assert shown_text(written(REFUSED_ACCESS), 20) == whole[:19].rstrip() + "…"
        assert str(shown(written(REFUSED_ACCESS), 20)) == whole[:19].rstrip().replace("'", "&#x27;") + "…"
        assert shown_text(written(REFUSED_ACCESS), 500) == whole


@pytest.mark.django_db
def test_the_order_page_shows_a_workers_placement_problem_in_the_users_language(
    member_client: Client, store: Any
) -> None:
    order = OrderFactory(store=store)
    with translation.override("en"):  # as the placement worker writes it
        order_issue_set(order.pk, "account_reconnect", translation.gettext(REFUSED_ACCESS))
    assert member_client.post("/accounts/language/", {"language": "fr", "next": "/orders/"}).status_code == 302

    page = member_client.get(f"/orders/{order.pk}/").content.decode()

    assert written(REFUSED_ACCESS, "fr").replace("'", "&#x27;") in page
    assert REFUSED_ACCESS not in page


def test_an_entry_whose_placeholder_is_no_group_name_is_left_out() -> None:
    from zopi.stored_messages import _entry

    assert _entry("Row %(1)s refused by the supplier", "Row %(1)s refused by the supplier") is None
    entry = _entry("Row %(row)s refused by the supplier", "Row %(row)s refused by the supplier")
    assert entry is not None
    assert entry.pattern.fullmatch("Row 7 refused by the supplier") is not None


def test_a_body_of_many_sentences_after_one_of_ours_is_shown_as_data() -> None:
    """Only the first sentence ends are tried as cuts (MAX_CUTS), so a hostile body stays cheap."""
    stored = written(CHECKING) + " " + ". ".join(["Bad"] * 500)
    assert read(stored, "fr") == f'<bdi translate="no">{stored}</bdi>'
