"""Builtin filters (no ``{% load %}``): ``{{ amount|money:currency }}`` (zopi/formatting.py's
money_text) and ``{{ value|data }}``: a merchant's, customer's or supplier's own words (a username,
a product title, a carrier's scan text) in a ``<bdi translate="no">``: kept in their own direction
and never taken for a UI string to translate (the language check in tests/browser skips them);
``{{ message|shown }}`` / ``{{ message|shown:200 }}`` and ``|shown_text``: a message stored for
later readers (a placement problem, a supplier's or channel's error) in the reader's language
(zopi/stored_messages.py), what is not ours as data."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from zopi import stored_messages
from zopi.formatting import money_text

register = template.Library()


@register.filter(name="money")
def money(amount: object, currency: object = "") -> str:
    return money_text(amount, currency)


@register.filter(name="data")
def data(value: object) -> SafeString:
    return format_html('<bdi translate="no">{}</bdi>', "" if value is None else value)


@register.filter(name="shown")
def shown(message: object, limit: int | None = None) -> SafeString:
    return stored_messages.shown(message, limit)


@register.filter(name="shown_text")
def shown_text(message: object, limit: int | None = None) -> str:
    return stored_messages.shown_text(message, limit)
