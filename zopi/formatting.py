"""Money as the reader's language writes numbers: ``1,234.50 USD`` in English, ``1 234,50 USD`` in
French, ``1.234,50 USD`` in German (CLDR's separators, through Babel). The ISO code, not a symbol,
follows the number in every language: a merchant sees several currencies on one screen (what the
customer paid, what the supplier charged) and "$" alone would not say which dollar. Times elapsed ("3
hours ago") from CLDR too."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from babel.core import UnknownLocaleError
from babel.dates import format_timedelta
from babel.numbers import format_decimal, get_currency_precision
from django.utils import timezone
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


def ago_text(at: datetime, now: datetime | None = None) -> str:
    """ "3 hours ago" in the active language, one unit (the row has no room for more), from CLDR
    (Babel): each language's own word order and case ("vor 3 Tagen", "il y a 3 jours", "3天前"),
    which a "%(time)s ago" around Django's timesince cannot give. Under a minute, or a time a
    clock ahead of ours gave, reads "1 minute ago"."""
    elapsed = max((now or timezone.now()) - at, timedelta(minutes=1))
    try:
        return format_timedelta(-elapsed, granularity="minute", add_direction=True, locale=_locale())
    except UnknownLocaleError:
        return format_timedelta(-elapsed, granularity="minute", add_direction=True, locale="en")
