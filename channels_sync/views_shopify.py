"""Connecting Shopify as the operator's app: start the install, take Shopify's callback, reconnect.

Each view is a few lines over ``services.install_shopify``; what went wrong reaches the merchant
as a message on the Stores page (the callback is a full page load coming back from Shopify).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.decorators import owner_required
from channels_sync.services.install import InstallError
from channels_sync.services.install_shopify import (
    InstallCanceled,
    shopify_install_callback,
    shopify_install_start,
)
from channels_sync.views import _store_of

MAX_CALLBACK_PARAMS = 20
MAX_CALLBACK_VALUE = 2000


class ShopifyInstallForm(forms.Form):
    name = forms.CharField(label=_("Store name"), max_length=200)
    shop = forms.CharField(
        label=_("Shop name"),
        max_length=100,
        help_text=_("Your shop's name on Shopify: <name>.myshopify.com, or just <name>."),
    )


def _owner_id(request: HttpRequest) -> int:
    """The signed-in owner's id (``owner_required`` lets no anonymous user through)."""
    user_id = request.user.pk
    if user_id is None:
        raise PermissionDenied
    return int(user_id)


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


def _back_with_error(request: HttpRequest, message: str) -> HttpResponse:
    messages.error(request, message)
    return redirect("channels_sync:stores")


def _to_shopify(request: HttpRequest, url: str) -> HttpResponse:
    """A plain redirect, or htmx's full-page one (the install page is Shopify's, not a fragment)."""
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


@require_POST
@owner_required
def shopify_install(request: HttpRequest) -> HttpResponse:
    form = ShopifyInstallForm(request.POST, prefix="shopify-app")
    if not form.is_valid():
        errors = [str(error) for field_errors in form.errors.values() for error in field_errors]
        return _back_with_error(request, " ".join(errors))
    try:
        url = shopify_install_start(
            account=request.account,  # type: ignore[attr-defined]
            user_id=_owner_id(request),
            session_key=_session_key(request),
            store_name=form.cleaned_data["name"],
            shop=form.cleaned_data["shop"],
        )
    except InstallError as error:
        return _back_with_error(request, str(error))
    return _to_shopify(request, url)


@require_POST
@owner_required
def shopify_reconnect(request: HttpRequest, store_id: int) -> HttpResponse:
    """One click back through Shopify's install page for a store whose access was refused."""
    store = _store_of(request, store_id)
    try:
        url = shopify_install_start(
            account=store.account, user_id=_owner_id(request), session_key=_session_key(request), store=store
        )
    except InstallError as error:
        return _back_with_error(request, str(error))
    return _to_shopify(request, url)


def _callback_query(request: HttpRequest) -> dict[str, str] | None:
    """The callback's parameters, one value each and bounded; None when the query is not one
    Shopify would send (a parameter twice, too many, too long)."""
    if len(request.GET) > MAX_CALLBACK_PARAMS:
        return None
    query = {}
    for key, values in request.GET.lists():
        if len(values) != 1 or len(values[0]) > MAX_CALLBACK_VALUE:
            return None
        query[key] = values[0]
    return query


@require_GET
@owner_required
def shopify_callback(request: HttpRequest) -> HttpResponse:
    """Where Shopify sends the merchant back (the app's redirect URI)."""
    query = _callback_query(request)
    if query is None:
        return _back_with_error(request, str(_("This answer is not one Shopify sends: nothing was connected.")))
    try:
        done = shopify_install_callback(query=query, session_key=request.session.session_key or "")
    except InstallCanceled as canceled:
        messages.warning(request, str(canceled))
        return redirect("channels_sync:stores")
    except InstallError as error:
        return _back_with_error(request, str(error))
    messages.success(request, done.message)
    return redirect("channels_sync:stores")
