"""Builtin filters (no ``{% load %}``): ``{{ amount|money:currency }}`` (zopi/formatting.py's
money_text) and ``{{ value|data }}``: a merchant's, customer's or supplier's own words (a username,
a product title, a carrier's scan text) in a ``<bdi translate="no">``: kept in their own direction
and never taken for a UI string to translate (the language check in tests/browser skips them)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from zopi.formatting import money_text

register = template.Library()


@register.filter(name="money")
def money(amount: object, currency: object = "") -> str:
    return money_text(amount, currency)


@register.filter(name="data")
def data(value: object) -> SafeString:
    return format_html('<bdi translate="no">{}</bdi>', "" if value is None else value)
