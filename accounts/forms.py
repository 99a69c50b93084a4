"""Forms of the Members page: what an owner types, checked before any service runs."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from accounts.enums import Role


class MemberAddForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[get_user_model().username_validator],
        help_text=_("A new login for this person. Letters, digits and @/./+/-/_ only."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )
    # A text input (styled like the others), with the e-mail keyboard on phones; checked on the server.
    email = forms.EmailField(
        label=_("E-mail"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "email", "autocomplete": "off", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        help_text=_("Give it to them in person; they sign in with it."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.STAFF)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone the machine knows, by name (``Europe/Paris``), UTC first."""
    zones = sorted(zone for zone in zoneinfo.available_timezones() if "/" in zone and not zone.startswith("Etc/"))
    return [("UTC", "UTC"), *[(zone, zone.replace("_", " ")) for zone in zones]]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        widget=forms.Select(attrs={"translate": "no"}),  # IANA names, as every system writes them
        help_text=_("Dates and times in the order center are shown in this zone, for every member."),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
