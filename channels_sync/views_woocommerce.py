"""WooCommerce's approval path: send the merchant to their site's authorization page, take the
key pair WooCommerce posts to us, and welcome the merchant back (``services.install_woocommerce``)."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.decorators import owner_required
from channels_sync.forms import APP_CONNECT_FORMS, app_form_prefix
from channels_sync.services.install import InstallError
from channels_sync.services.install_woocommerce import (
    CALLBACK_MAX_BYTES,
    CallbackRefused,
    woocommerce_authorize_start,
    woocommerce_keys_receive,
    woocommerce_return,
)
from channels_sync.views import _render_stores, _store_of
from orders.enums import Channel

logger = logging.getLogger(__name__)


def _to_site(request: HttpRequest, url: str) -> HttpResponse:
    """Off to the merchant's site: a plain redirect, or htmx's full-page one."""
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _session_key(request: HttpRequest) -> str:
    return request.session.session_key or ""


def _user_id(request: HttpRequest) -> int:
    """The signed-in owner's id (``owner_required`` let only a signed-in user through)."""
    return int(request.user.pk or 0)


@require_POST
@owner_required
def woocommerce_authorize(request: HttpRequest) -> HttpResponse:
    """The WooCommerce panel's "Connect": store name and site URL, then the site's approval page."""
    prefix = app_form_prefix(Channel.WOOCOMMERCE)
    form = APP_CONNECT_FORMS[Channel.WOOCOMMERCE](request.POST, prefix=prefix)
    if form.is_valid():
        try:
            url = woocommerce_authorize_start(
                account=request.account,  # type: ignore[attr-defined]
                user_id=_user_id(request),
                session_key=_session_key(request),
                name=form.cleaned_data["name"],
                site_url=form.typed_url("base_url"),
            )
        except InstallError as error:
            form.add_error(None, str(error))
        else:
            return _to_site(request, url)
    return _render_stores(request, forms={prefix: form}, status=422)


@require_POST
@owner_required
def woocommerce_reconnect(request: HttpRequest, store_id: int) -> HttpResponse:
    """ "Reconnect" on a WooCommerce store that lost its keys: its own site's approval page again."""
    store = _store_of(request, store_id)
    try:
        url = woocommerce_authorize_start(
            account=store.account,
            user_id=_user_id(request),
            session_key=_session_key(request),
            name=store.name,
            site_url=store.base_url,
            store=store,
        )
    except InstallError as error:
        messages.error(request, str(error))
        return redirect("channels_sync:stores")
    return _to_site(request, url)


@csrf_exempt  # posted by the merchant's WordPress server, not a browser; checked against our pending request
@require_POST
def woocommerce_callback(request: HttpRequest) -> HttpResponse:
    """WooCommerce posts the key pair here; anything but 200 makes it delete the pair."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > CALLBACK_MAX_BYTES:
        return JsonResponse({"error": f"the body must be at most {CALLBACK_MAX_BYTES} bytes"}, status=413)
    try:
        store = woocommerce_keys_receive(content_type=request.content_type or "", body=request.read())
    except CallbackRefused as refused:
        logger.info("woocommerce key callback refused (%s): %s", refused.status, refused)
        return JsonResponse({"error": str(refused)}, status=refused.status)
    logger.info("woocommerce keys received for store %s", store.pk)
    return JsonResponse({"ok": True})


@require_GET
@owner_required
def woocommerce_return_view(request: HttpRequest) -> HttpResponse:
    """The browser back from the approval page: say what happened, on the Stores page."""
    try:
        returned = woocommerce_return(
            account=request.account,  # type: ignore[attr-defined]
            session_key=_session_key(request),
            success=request.GET.get("success", ""),
            user_id=request.GET.get("user_id", ""),
        )
    except InstallError as error:
        messages.error(request, str(error))
    else:
        (messages.success if returned.connected else messages.warning)(request, returned.message)
    return redirect("channels_sync:stores")
