"""Money in the reader's language (zopi/formatting.py): CLDR's separators, the currency's own
decimals, the ISO code after the number; hostile amounts and currencies shown, never a crash."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from zopi.formatting import money_number, money_text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "1,234.50 USD"),
        ("de", "1.234,50 USD"),
        ("fr", "1\u202f234,50 USD"),
        ("pt-br", "1.234,50 USD"),
        ("zh-hans", "1,234.50 USD"),
    ],
)
def test_money_is_written_as_the_language_writes_numbers(language: str, expected: str) -> None:
    with translation.override(language):
        assert money_text(Decimal("1234.5"), "USD") == expected


def test_each_currency_keeps_its_own_decimals() -> None:
    with translation.override("en"):
        assert money_text(Decimal("1500"), "JPY") == "1,500 JPY"
        assert money_text(Decimal("12.345"), "KWD") == "12.345 KWD"
        assert money_number(Decimal("20"), "USD") == "20.00"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (None, "USD", "—"),
        ("", "USD", "—"),
        ("abc", "USD", "abc USD"),
        ("NaN", "USD", "NaN USD"),
        ("5", "<b>", "5.00 <b>"),
    ],
)
def test_hostile_amounts_and_currencies_are_shown_not_crashed_on(amount: object, currency: str, expected: str) -> None:
    with translation.override("en"):
        assert money_text(amount, currency) == expected


def test_the_filters_escape_and_mark_data() -> None:
    rendered = Template("{{ a|money:c }} {{ name|data }}").render(
        Context({"a": Decimal("3"), "c": "EUR", "name": "<script>x</script>"})
    )
    assert rendered == '3.00 EUR <bdi translate="no">&lt;script&gt;x&lt;/script&gt;</bdi>'
