"""The owners' tracking settings page (``/tracking/settings/``): expiry and stalled days."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.decorators import owner_required
from tracking.forms import TrackingSettingsForm
from tracking.services.stalled import account_tracking_settings_update

TEMPLATE = "tracking/settings.html"


@owner_required
@require_http_methods(["GET", "POST"])
def tracking_settings(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    if request.method == "POST":
        form = TrackingSettingsForm(request.POST)
        if form.is_valid():
            account_tracking_settings_update(account=account, **form.cleaned_data)
            messages.success(request, _("Tracking settings saved."))
            return redirect("tracking_settings")
        # 422: the form comes back with what is wrong (htmx swaps it in, as a 200)
        return render(request, TEMPLATE, {"form": form}, status=422)
    initial = {
        "expire_after_days": account.expire_after_days,
        "stalled_no_tracking_days": account.stalled_no_tracking_days,
        "stalled_no_event_days": account.stalled_no_event_days,
    }
    return render(request, TEMPLATE, {"form": TrackingSettingsForm(initial=initial)})
