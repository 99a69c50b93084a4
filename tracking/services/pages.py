"""The public tracking page's token: one per order, unguessable, made once."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import IntegrityError, transaction

from tracking.models import TrackingPage


def tracking_page_for(order_id: int) -> TrackingPage:
    """The order's tracking page, made on first use (two makers at once: one row, both get it)."""
    page = TrackingPage.objects.filter(order_id=order_id).first()
    if page is not None:
        return page
    try:
        with transaction.atomic():
            return TrackingPage.objects.create(order_id=order_id, token=secrets.token_urlsafe(32))
    except IntegrityError:
        return TrackingPage.objects.get(order_id=order_id)


def tracking_page_url(order_id: int) -> str:
    """The page's absolute address (``/t/<token>/``), for the channel's tracking URL."""
    return f"{settings.SITE_URL}/t/{tracking_page_for(order_id).token}/"
