"""Whether the operator registered a channel's app (the one-click connect panels show only then)."""

from __future__ import annotations

from django import template

from channels_sync.services.install_shopify import shopify_app_ready

register = template.Library()


@register.simple_tag
def shopify_app_configured() -> bool:
    return shopify_app_ready()
