from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.middleware import SESSION_KEY
from accounts.services import AccountNotFound, account_for_switch


@login_required
@require_POST
def switch_account(request: HttpRequest) -> HttpResponse:
    raw_id = request.POST.get("account", "")
    # ASCII digits only ("²".isdigit() is true but int() refuses it), within the bigint range.
    if not (raw_id.isascii() and raw_id.isdigit()) or int(raw_id) > 2**63 - 1:
        return HttpResponseBadRequest(_("Choose an account to switch to."))
    try:
        account = account_for_switch(user=request.user, account_id=int(raw_id))  # type: ignore[arg-type]
    except AccountNotFound:
        raise Http404(_("No such account.")) from None
    request.session[SESSION_KEY] = account.pk
    # The new account has other stores and orders: land on the order center, not the old URL.
    target = request.POST.get("next") or "orders:center"
    if target != "orders:center" and not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "orders:center"
    return redirect(target)
