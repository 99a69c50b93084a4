"""TikTok Shop connected as the operator's app: off to TikTok Shop's authorization page, back on
the callback, the shops picked, and "Reconnect" for a store whose access TikTok refused.

Each view is a few lines over ``services.install_tiktok``; its ``InstallError`` becomes a message
on the Stores page. The callback is a GET from TikTok's redirect carrying the ``state`` we sent,
bound to this browser session; every query value is bounded and checked by the service.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import owner_required
from channels_sync import selectors
from channels_sync.models import Store
from channels_sync.services.install import InstallError
from channels_sync.services.install_tiktok import (
    InstallCanceled,
    authorization_choosing,
    connected_store,
    shops_of,
    tiktok_authorize_url,
    tiktok_callback,
    tiktok_shops_connect,
)

SHOPS_TEMPLATE = "channels_sync/tiktok_shops.html"
MAX_PICKED = 100


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return str(request.session.session_key or "")


def _to_tiktok(request: HttpRequest, store: Store | None = None) -> HttpResponse:
    try:
        url = tiktok_authorize_url(
            account=request.account,  # type: ignore[attr-defined]
            user_id=int(request.user.pk or 0),
            session_key=_session_key(request),
            store=store,
        )
    except InstallError as error:
        messages.error(request, str(error))
        return redirect("channels_sync:stores")
    response = HttpResponseRedirect(url)
    if request.htmx:  # type: ignore[attr-defined]
        response["HX-Redirect"] = url  # a whole-page visit to TikTok Shop, not a swap
    return response


@require_POST
@owner_required
def tiktok_connect(request: HttpRequest) -> HttpResponse:
    return _to_tiktok(request)


@require_POST
@owner_required
def tiktok_reconnect(request: HttpRequest, store_id: int) -> HttpResponse:
    try:
        store = selectors.store_get(account=request.account, store_id=store_id)  # type: ignore[attr-defined]
    except Store.DoesNotExist:
        raise Http404(_("No such store in this account.")) from None
    return _to_tiktok(request, store)


@require_GET
@owner_required
def tiktok_callback_view(request: HttpRequest) -> HttpResponse:
    try:
        result = tiktok_callback(
            state=request.GET.get("state", ""), code=request.GET.get("code", ""), session_key=_session_key(request)
        )
    except InstallCanceled as canceled:
        messages.info(request, str(canceled))
        return redirect("channels_sync:stores")
    except InstallError as error:
        messages.error(request, str(error))
        return redirect("channels_sync:stores")
    if result.stores:
        messages.success(
            request, _("%(name)s is reconnected: checking it with TikTok Shop…") % {"name": result.stores[0].name}
        )
        return redirect("channels_sync:stores")
    return redirect("channels_sync:tiktok_shops", authorization_id=result.authorization.pk)


@require_http_methods(["GET", "POST"])
@owner_required
def tiktok_shops(request: HttpRequest, authorization_id: int) -> HttpResponse:
    """The shops the seller authorized: the merchant picks those to connect."""
    account = request.account  # type: ignore[attr-defined]
    try:
        authorization = authorization_choosing(
            account=account, authorization_id=authorization_id, session_key=_session_key(request)
        )
    except InstallError as error:
        messages.error(request, str(error))
        return redirect("channels_sync:stores")
    refusal = ""
    if request.method == "POST":
        picked = request.POST.getlist("shop")[:MAX_PICKED]
        try:
            stores = tiktok_shops_connect(
                account=account, authorization_id=authorization.pk, session_key=_session_key(request), shop_ids=picked
            )
        except InstallError as refused:
            refusal = str(refused)
        else:
            names = ", ".join(store.name for store in stores)
            messages.success(
                request, _("Connecting %(names)s: checking with TikTok Shop, then importing orders…") % {"names": names}
            )
            return redirect("channels_sync:stores")
    shops = [{"shop": shop, "store": connected_store(account, shop)} for shop in shops_of(authorization)]
    context = {
        "authorization": authorization,
        "shops": shops,
        "error": refusal,
        "seller": authorization.grant.get("seller_name", ""),
    }
    return render(request, SHOPS_TEMPLATE, context, status=422 if refusal else 200)
