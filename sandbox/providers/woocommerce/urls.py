"""Routes under /sandbox/woocommerce/ (REST API, the wc-auth endpoint) and /sandbox/_control/woocommerce/
(control extras).

WordPress accepts a trailing slash on REST routes, so every route here does too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path

from sandbox.enums import Provider
from sandbox.providers._channel_control import channel_control_urlpatterns
from sandbox.providers.woocommerce import views
from sandbox.providers.woocommerce.api import no_route
from sandbox.providers.woocommerce.authorize import auth_endpoint
from sandbox.providers.woocommerce.spec import buyer_cancel, merchant_refund, merchant_update

SITE = r"^(?P<site>[-a-zA-Z0-9_]+)/wp-json/"
WC = SITE + r"wc/v3/"
ORDER = WC + r"orders/(?P<order_id>[0-9]+)"


def _int_kwargs(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """re_path passes strings; the views take integer ids."""

    @functools.wraps(view)  # keeps csrf_exempt
    def wrapped(request: HttpRequest, **kwargs: str) -> HttpResponse:
        return view(request, **{k: int(v) if k.endswith("_id") else v for k, v in kwargs.items()})

    return wrapped


urlpatterns = [
    re_path(WC + r"orders/?$", views.orders, name="sandbox-woocommerce-orders"),
    re_path(ORDER + r"/?$", _int_kwargs(views.order)),
    re_path(ORDER + r"/notes/?$", _int_kwargs(views.notes)),
    re_path(ORDER + r"/refunds/?$", _int_kwargs(views.refunds)),
    re_path(ORDER + r"/notes/(?P<note_id>[0-9]+)/?$", _int_kwargs(views.note)),
    re_path(WC + r"webhooks/?$", views.webhooks),
    re_path(WC + r"webhooks/(?P<webhook_id>[0-9]+)/?$", _int_kwargs(views.webhook)),
    re_path(
        SITE + r"wc-shipment-tracking/v3/orders/(?P<order_id>[0-9]+)/shipment-trackings/?$",
        _int_kwargs(views.shipment_trackings),
    ),
    re_path(SITE + r".*$", no_route),
    re_path(
        r"^(?P<site>[-a-zA-Z0-9_]+)/wc-auth/v1/(?P<route>[a-z_]+)/?$", auth_endpoint, name="sandbox-woocommerce-auth"
    ),
    path("<slug:site>", views.site_root, name="sandbox-woocommerce-site"),
    path("<slug:site>/", views.site_root),
]

control_urlpatterns = channel_control_urlpatterns(
    Provider.WOOCOMMERCE, cancel=buyer_cancel, update=merchant_update, refund=merchant_refund
)
