"""Money as the reader's language writes numbers: ``1,234.50 USD`` in English, ``1 234,50 USD`` in
French, ``1.234,50 USD`` in German (CLDR's separators, through Babel). The ISO code, not a symbol,
follows the number in every language: a merchant sees several currencies on one screen (what the
customer paid, what the supplier charged) and "$" alone would not say which dollar."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.core import UnknownLocaleError
from babel.numbers import format_decimal, get_currency_precision
from django.utils.translation import get_language, to_locale

MISSING = "—"


def _locale() -> str:
    return to_locale(get_language() or "en")


def money_text(amount: object, currency: object = "") -> str:
    """``amount`` with its currency's decimals in the active language, then the currency code;
    "—" for no amount. A currency a channel sent that is not one (hostile) gets two decimals."""
    number, code = _money_parts(amount, currency)
    return f"{number} {code}".strip()


def money_number(amount: object, currency: object = "") -> str:
    """The number of ``money_text`` alone (a message that places the currency code itself)."""
    return _money_parts(amount, currency)[0]


def _money_parts(amount: object, currency: object) -> tuple[str, str]:
    code = str(currency or "").strip()[:8]
    if amount is None or amount == "":
        return MISSING, ""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount), code
    if not value.is_finite():
        return str(amount), code
    try:
        digits = get_currency_precision(code) if code.isalpha() and len(code) == 3 else 2
    except (KeyError, ValueError):
        digits = 2
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    try:
        number = format_decimal(value, format=pattern, locale=_locale(), decimal_quantization=True)
    except UnknownLocaleError:
        number = format_decimal(value, format=pattern, locale="en", decimal_quantization=True)
    return number, code
