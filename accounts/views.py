"""Account switching and the Members page (owners add staff or owners, change roles, remove)."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts.decorators import owner_required
from accounts.enums import Role
from accounts.forms import LanguageForm, MemberAddForm, MemberRoleForm, TimeZoneForm
from accounts.middleware import LANGUAGE_SESSION_KEY, SESSION_KEY
from accounts.navigation import redirect_to_next
from accounts.selectors import members_of
from accounts.services import (
    AccountNotFound,
    LastOwner,
    MemberNotFound,
    PasswordRejected,
    UsernameTaken,
    account_for_switch,
    account_set_time_zone,
    member_add,
    member_remove,
    member_set_role,
    user_language_set,
)

MEMBERS_TEMPLATE = "accounts/members.html"


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
    # The new account has other stores and orders: land on the order center unless told otherwise.
    return redirect_to_next(request.POST.get("next"), default=reverse("orders:center"))


def _render_members(
    request: HttpRequest, *, add_form: MemberAddForm | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "members": list(members_of(account=account)),
        "roles": Role.choices,
        "add_form": add_form or MemberAddForm(),
        "time_zone_form": TimeZoneForm(initial={"time_zone": account.time_zone}),
        "error": error,
    }
    template = f"{MEMBERS_TEMPLATE}#members" if request.htmx else MEMBERS_TEMPLATE  # type: ignore[attr-defined]
    response = render(request, template, context, status=status)
    response["Vary"] = "HX-Request"
    return response


def _done(request: HttpRequest, message: str) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return trigger_client_event(_render_members(request), "toast", {"message": message})
    messages.success(request, message)
    return redirect("accounts:members")


def _left_owners(request: HttpRequest, message: str) -> HttpResponse:
    """The signed-in user is no longer an owner here: the Members page is not theirs any more."""
    messages.success(request, message)
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponseClientRedirect("/")
    return redirect("orders:center")


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    # 422: the page comes back with the reason; htmx swaps it in (base.html's responseHandling).
    return _render_members(request, error=message, status=422)


@require_GET
@owner_required
def members(request: HttpRequest) -> HttpResponse:
    return _render_members(request)


@require_POST
@owner_required
def member_add_view(request: HttpRequest) -> HttpResponse:
    form = MemberAddForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            membership = member_add(
                account=request.account,  # type: ignore[attr-defined]
                username=data["username"],
                email=data["email"],
                password=data["password"],
                role=Role(data["role"]),
            )
        except UsernameTaken:
            form.add_error("username", _("This username is taken. Choose another one."))
        except PasswordRejected as error:
            for message in error.messages:
                form.add_error("password", message)
        else:
            return _done(
                request,
                _("%(username)s is now a member (%(role)s). They can sign in with the password you chose.")
                % {"username": membership.user.get_username(), "role": membership.get_role_display()},
            )
    return _render_members(request, add_form=form, status=422)


@require_POST
@owner_required
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        return _refused(request, _("Choose a role: owner or staff."))
    try:
        membership = member_set_role(
            account=request.account,  # type: ignore[attr-defined]
            membership_id=membership_id,
            role=Role(form.cleaned_data["role"]),
        )
    except MemberNotFound:
        raise Http404(_("No such member in this account.")) from None
    except LastOwner:
        return _refused(request, _("An account needs at least one owner. Make someone else an owner first."))
    message = _("%(username)s is now %(role)s.") % {
        "username": membership.user.get_username(),
        "role": membership.get_role_display(),
    }
    if membership.user_id == request.user.pk and membership.role != Role.OWNER:
        return _left_owners(request, message)
    return _done(request, message)


@require_POST
@owner_required
def member_remove_view(request: HttpRequest, membership_id: int) -> HttpResponse:
    try:
        membership = member_remove(account=request.account, membership_id=membership_id)  # type: ignore[attr-defined]
    except MemberNotFound:
        raise Http404(_("No such member in this account.")) from None
    except LastOwner:
        return _refused(request, _("An account needs at least one owner: the last owner cannot be removed."))
    message = _("%(username)s is no longer a member of this account.") % {"username": membership.user.get_username()}
    if membership.user_id == request.user.pk:
        return _left_owners(request, message)
    return _done(request, message)


@require_POST
def language_choose(request: HttpRequest) -> HttpResponse:
    """The top bar's language: for a signed-in user remembered for good (every device, every
    account); for anyone in the language cookie, as Django's own ``set_language`` does."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Choose a language from the list."))
    language = form.cleaned_data["language"]
    if request.user.is_authenticated:
        user_language_set(user=request.user, language=language)
        request.session[LANGUAGE_SESSION_KEY] = language
    response = redirect_to_next(request.POST.get("next"), default=reverse("orders:center"))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


@require_POST
@owner_required
def account_time_zone(request: HttpRequest) -> HttpResponse:
    form = TimeZoneForm(request.POST)
    if not form.is_valid():
        return _refused(request, _("Choose a time zone from the list."))
    account = account_set_time_zone(account=request.account, time_zone=form.cleaned_data["time_zone"])  # type: ignore[attr-defined]
    timezone.activate(zoneinfo.ZoneInfo(account.time_zone))  # this answer already in the new zone
    return _done(request, _("Dates and times are now shown in %(zone)s.") % {"zone": account.time_zone})
