"""The suppliers page (owners): one card per supplier, connect / switch / reconnect / disconnect,
payment mode and balance. Each view is a few lines over ``services.accounts``; its
``ConnectError`` becomes a message or a form error. Every id is resolved through the account
(another tenant's: 404); every POST carries the CSRF token; API keys are never rendered back.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import owner_required
from suppliers.enums import PaymentMode, SourceAccountStatus, SupplierProvider
from suppliers.models import SourceAccount
from suppliers.services.accounts import (
    MAX_KEY,
    ConnectCanceled,
    ConnectError,
    aliexpress_authorize_url,
    aliexpress_callback,
    cj_connect,
    source_account_balance_refresh,
    source_account_disconnect,
    source_account_get,
    source_account_payment_mode_set,
    supplier_cards,
    temu_connect,
)

TEMPLATE = "suppliers/accounts.html"


class ApiKeyForm(forms.Form):
    connect_error = ""  # the supplier's refusal, shown above the (emptied) field

    api_key = forms.CharField(
        label=gettext_lazy("API key"),
        max_length=MAX_KEY,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class PaymentModeForm(forms.Form):
    payment_mode = forms.ChoiceField(label=gettext_lazy("Payment"), choices=PaymentMode.choices)


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return str(request.session.session_key or "")


def _page(
    request: HttpRequest, *, forms_by_provider: dict[str, ApiKeyForm] | None = None, status: int = 200
) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    given = forms_by_provider or {}
    cards = [
        {
            "card": card,
            "key_form": given.get(card.provider) or ApiKeyForm(prefix=card.provider),
            "payment_form": PaymentModeForm(
                initial={"payment_mode": card.account.payment_mode}, prefix=f"pay-{card.provider}"
            )
            if card.account
            else None,
        }
        for card in supplier_cards(account=account)
    ]
    return render(request, TEMPLATE, {"cards": cards}, status=status)


def _owned(request: HttpRequest, source_account_id: int) -> SourceAccount:
    try:
        return source_account_get(account=request.account, source_account_id=source_account_id)  # type: ignore[attr-defined]
    except SourceAccount.DoesNotExist:
        raise Http404(_("No such supplier account in this account.")) from None


@require_GET
@owner_required
def suppliers_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@owner_required
def aliexpress_connect(request: HttpRequest) -> HttpResponse:
    """Connect, Switch account or Reconnect: off to AliExpress's authorize page."""
    try:
        url = aliexpress_authorize_url(
            account=request.account,  # type: ignore[attr-defined]
            user_id=int(request.user.pk or 0),
            session_key=_session_key(request),
        )
    except ConnectError as error:
        messages.error(request, str(error))
        return redirect("suppliers:accounts")
    return HttpResponseRedirect(url)


@require_GET
@owner_required
def aliexpress_callback_view(request: HttpRequest) -> HttpResponse:
    try:
        source_account = aliexpress_callback(
            state=request.GET.get("state", "")[:300],
            code=request.GET.get("code", "")[:2000],
            session_key=_session_key(request),
            by_user_id=request.user.pk,
        )
    except ConnectCanceled as canceled:
        messages.info(request, str(canceled))
        return redirect("suppliers:accounts")
    except ConnectError as error:
        messages.error(request, str(error))
        return redirect("suppliers:accounts")
    messages.success(request, _("AliExpress account %(name)s is connected.") % {"name": source_account.name})
    return redirect("suppliers:accounts")


def _key_connect(request: HttpRequest, provider: str) -> HttpResponse:
    form = ApiKeyForm(request.POST, prefix=provider)
    if not form.is_valid():
        return _page(request, forms_by_provider={provider: form}, status=400)
    connect = cj_connect if provider == SupplierProvider.CJ else temu_connect
    try:
        source_account = connect(account=request.account, api_key=form.cleaned_data["api_key"])  # type: ignore[attr-defined]
    except ConnectError as error:
        form = ApiKeyForm(prefix=provider)  # the key is not shown back
        form.connect_error = str(error)
        return _page(request, forms_by_provider={provider: form}, status=400)
    messages.success(
        request,
        _("%(supplier)s account %(name)s is connected.")
        % {"supplier": SupplierProvider(provider).label, "name": source_account.name},
    )
    return redirect("suppliers:accounts")


@require_POST
@owner_required
def cj_connect_view(request: HttpRequest) -> HttpResponse:
    return _key_connect(request, SupplierProvider.CJ)


@require_POST
@owner_required
def temu_connect_view(request: HttpRequest) -> HttpResponse:
    return _key_connect(request, SupplierProvider.TEMU)


@require_POST
@owner_required
def disconnect(request: HttpRequest, source_account_id: int) -> HttpResponse:
    source_account = _owned(request, source_account_id)
    source_account_disconnect(account=request.account, source_account_id=source_account.pk)  # type: ignore[attr-defined]
    messages.success(
        request,
        _("%(name)s is disconnected: orders placed with it stay, and are no longer synced.")
        % {"name": source_account.name},
    )
    return redirect("suppliers:accounts")


@require_POST
@owner_required
def payment_mode(request: HttpRequest, source_account_id: int) -> HttpResponse:
    source_account = _owned(request, source_account_id)
    form = PaymentModeForm(request.POST, prefix=f"pay-{source_account.provider}")
    if not form.is_valid():
        messages.error(request, _("Choose how orders are paid: right away, or later from the Payment tab."))
        return redirect("suppliers:accounts")
    source_account_payment_mode_set(
        account=request.account,  # type: ignore[attr-defined]
        source_account_id=source_account.pk,
        payment_mode=form.cleaned_data["payment_mode"],
    )
    messages.success(request, _("Payment setting saved for %(name)s.") % {"name": source_account.name})
    return redirect("suppliers:accounts")


@require_POST
@owner_required
def balance_refresh(request: HttpRequest, source_account_id: int) -> HttpResponse:
    source_account = _owned(request, source_account_id)
    if source_account.provider == SupplierProvider.ALIEXPRESS:
        messages.info(request, _("AliExpress does not give the balance through its API."))
    elif source_account.status != SourceAccountStatus.CONNECTED:
        messages.error(request, _("%(name)s is not connected: connect it first.") % {"name": source_account.name})
    else:
        source_account_balance_refresh(source_account_id=source_account.pk)
        messages.success(request, _("Balance checked for %(name)s.") % {"name": source_account.name})
    return redirect("suppliers:accounts")
