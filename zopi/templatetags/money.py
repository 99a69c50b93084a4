"""``{{ amount|money:currency }}`` (a builtin: no ``{% load %}``): zopi/formatting.py's money_text."""

from __future__ import annotations

from django import template

from zopi.formatting import money_text

register = template.Library()


@register.filter(name="money")
def money(amount: object, currency: object = "") -> str:
    return money_text(amount, currency)
