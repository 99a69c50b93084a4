"""Connect forms, one per channel: each asks for what that channel's API needs.

The store's address is checked against the outbound host policy (``integrations.hosts``) as
typed, before anything is called: a refused address is a form error naming what is refused and
what is allowed. The HTTP client checks every request again (an address already stored is never
called if the policy refuses it).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels_sync.carriers import carrier_key
from channels_sync.models import Store
from integrations.errors import ProviderError
from integrations.hosts import PUBLIC_HTTPS, SHOPIFY_SHOP, TIKTOK_SHOP_API, HostRule, check_url
from orders.enums import Channel

# What identifies the shop: asked when connecting, kept when a store's credentials are updated.
ADDRESS_FIELDS = ("name", "base_url", "domain")


class StoreUrlField(forms.URLField):
    """A URL field that keeps what was typed: ``URLField`` quietly drops a trailing "?" or "#",
    and the host policy must see (and refuse) it."""

    def to_python(self, value: Any) -> str:
        self.typed = str(value or "").strip()
        return str(super().to_python(value))


def host_policy_error(url: str, rule: HostRule) -> str | None:
    """Why ``url`` may not be called (the policy's message), or None."""
    try:
        check_url(url, rule)
    except ProviderError as error:  # HostNotAllowed, or a name that does not resolve
        return str(error)
    return None


class ConnectForm(forms.Form):
    channel: Channel
    credential_fields: tuple[str, ...] = ()
    host_rule: HostRule = PUBLIC_HTTPS

    name = forms.CharField(label=_("Store name"), max_length=200)

    def __init__(self, *args: Any, store: Store | None = None, **kwargs: Any) -> None:
        """With ``store``: the update-credentials mode, for that store's shop (its name and address
        are the store's; only the secrets are asked)."""
        super().__init__(*args, **kwargs)
        self.store = store
        if store is not None:
            for name in ADDRESS_FIELDS:
                self.fields.pop(name, None)
            if "webhook_secret" in self.fields:  # left empty: the store's is kept
                self.fields["webhook_secret"].required = False
                self.fields["webhook_secret"].help_text = _("Leave empty to keep the current one.")

    def clean(self) -> dict[str, Any]:
        return super().clean() or {}

    def connect_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        address = {"name": data.get("name", ""), "base_url": data.get("base_url", ""), "domain": data.get("domain", "")}
        if self.store is not None:
            # TikTok Shop's shop is its cipher (asked again): it must be the store's one.
            domain = "" if self.channel == Channel.TIKTOK else self.store.domain
            address = {"name": self.store.name, "base_url": self.store.base_url, "domain": domain}
        return {
            "channel": self.channel,
            **address,
            "credentials": {key: data[key] for key in self.credential_fields if data.get(key)},
            "webhook_secret": data.get("webhook_secret", ""),
        }

    def check_address(self, field: str, url: str) -> None:
        """Add the host policy's refusal of ``url`` (as typed) to ``field``, if any."""
        problem = host_policy_error(url, self.host_rule)
        if problem is not None:
            self.add_error(field, problem)

    def typed_url(self, field: str) -> str:
        typed = getattr(self.fields[field], "typed", "") or str(self.cleaned_data.get(field) or "")
        return typed if "://" in typed else f"https://{typed}"  # as URLField reads it


def _secret(label: Any, *, required: bool = True) -> forms.CharField:
    # render_value=False: a secret is never sent back to the browser, not even after an error.
    return forms.CharField(
        label=label, max_length=500, required=required, widget=forms.PasswordInput(render_value=False)
    )


class ShopifyConnectForm(ConnectForm):
    channel = Channel.SHOPIFY
    credential_fields = ("access_token",)

    domain = forms.CharField(
        label=_("Shop domain"), max_length=255, help_text=_("For example my-shop.myshopify.com"), required=False
    )
    host_rule = SHOPIFY_SHOP

    base_url = StoreUrlField(
        assume_scheme="https",
        label=_("Shop URL"),
        max_length=500,
        required=False,
        help_text=_("Leave empty to use https:// followed by the shop domain."),
    )
    access_token = _secret(_("Admin API access token"))
    webhook_secret = _secret(_("Webhook signing secret (app API secret)"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.store is None and not data.get("domain") and not data.get("base_url"):
            raise forms.ValidationError(_("Give the shop domain or the shop URL."))
        if data.get("base_url"):
            self.check_address("base_url", self.typed_url("base_url"))
        elif "domain" in data:
            self.check_address("domain", f"https://{data['domain'].strip()}")
        return data


class WooCommerceSiteForm(ConnectForm):
    """A store name and a WordPress site address, checked by the host policy as typed: what the
    approval path asks (``/wc-auth/v1/authorize``), and the start of the pasted-keys form."""

    channel = Channel.WOOCOMMERCE

    base_url = StoreUrlField(
        assume_scheme="https", label=_("Site URL"), max_length=500, help_text=_("The WordPress site address")
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("base_url"):
            self.check_address("base_url", self.typed_url("base_url"))
        return data


class WooCommerceConnectForm(WooCommerceSiteForm):
    credential_fields = ("consumer_key", "consumer_secret")

    consumer_key = _secret(_("Consumer key"))
    consumer_secret = _secret(_("Consumer secret"))
    webhook_secret = _secret(_("Webhook secret"))


class TikTokConnectForm(ConnectForm):
    channel = Channel.TIKTOK
    credential_fields = ("app_key", "app_secret", "access_token", "shop_cipher")

    app_key = forms.CharField(label=_("App key"), max_length=200)
    app_secret = _secret(_("App secret"))
    access_token = _secret(_("Access token"))
    shop_cipher = forms.CharField(label=_("Shop cipher"), max_length=200)
    base_url = StoreUrlField(
        assume_scheme="https",
        label=_("API address"),
        max_length=500,
        required=False,
        help_text=_("Leave empty for TikTok Shop's own"),
    )
    host_rule = TIKTOK_SHOP_API

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("base_url"):
            self.check_address("base_url", self.typed_url("base_url"))
        return data


CONNECT_FORMS: dict[str, type[ConnectForm]] = {
    Channel.SHOPIFY: ShopifyConnectForm,
    Channel.WOOCOMMERCE: WooCommerceConnectForm,
    Channel.TIKTOK: TikTokConnectForm,
}


# The approval-page path of a channel (the operator's app), shown above its advanced form; its
# prefix on the stores page is "<channel>-app".
APP_CONNECT_FORMS: dict[str, type[ConnectForm]] = {
    Channel.WOOCOMMERCE: WooCommerceSiteForm,
}


def app_form_prefix(channel: str) -> str:
    return f"{channel}-app"


def update_form_for(store: Store, *, data: Any = None) -> ConnectForm:
    """The store's channel form in update-credentials mode (its own prefix on the stores page)."""
    return CONNECT_FORMS[store.channel](data, prefix=f"update-{store.pk}", store=store)


class CarrierMappingForm(forms.Form):
    """One of the account's own carrier names (``CarrierMapping``): the supplier's name → the
    channel's carrier. Names are compared as ``carriers.carrier_key`` reads them (case, spaces and
    punctuation ignored); the duplicate check against the account's rows is the service's."""

    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    supplier_carrier = forms.CharField(label=_("Carrier as the supplier names it"), max_length=100)
    channel_carrier = forms.CharField(label=_("Carrier to tell the channel"), max_length=100)

    def clean_supplier_carrier(self) -> str:
        value = " ".join(str(self.cleaned_data["supplier_carrier"]).split())
        if not carrier_key(value):
            raise forms.ValidationError(_("Give the carrier's name with letters or digits in it."))
        return value

    def clean_channel_carrier(self) -> str:
        value = " ".join(str(self.cleaned_data["channel_carrier"]).split())
        if not carrier_key(value):
            raise forms.ValidationError(_("Give the carrier's name with letters or digits in it."))
        return value


class ShippingNotificationsForm(forms.Form):
    notify_customer_on_fulfillment = forms.BooleanField(
        label=_("Let the channel e-mail the customer when a parcel is fulfilled (Shopify)"), required=False
    )
