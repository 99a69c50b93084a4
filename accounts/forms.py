"""Forms of the Members page: what an owner types, checked before any service runs."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from babel.core import UnknownLocaleError
from babel.dates import get_timezone_location
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import get_language, to_locale
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
    """Every IANA zone the machine knows, by name (``Europe/Paris``), UTC first, each followed by
    where it is in the reader's language (CLDR through Babel: "Europe/Berlin · Allemagne (Berlin)")."""
    return _zone_choices(to_locale(get_language() or settings.LANGUAGE_CODE))


@lru_cache(maxsize=16)
def _zone_choices(locale: str) -> list[tuple[str, str]]:
    zones = sorted(zone for zone in zoneinfo.available_timezones() if "/" in zone and not zone.startswith("Etc/"))
    return [("UTC", "UTC"), *[(zone, _zone_label(zone, locale)) for zone in zones]]


def _zone_label(zone: str, locale: str) -> str:
    name = zone.replace("_", " ")
    try:
        return f"{name} · {get_timezone_location(zone, locale=locale)}"
    except (LookupError, ValueError, UnknownLocaleError):  # a zone or a language CLDR does not know: the name alone
        return name


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        widget=forms.Select(attrs={"translate": "no"}),  # IANA names, as every system writes them
        help_text=_("Dates and times in the order center are shown in this zone, for every member."),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
