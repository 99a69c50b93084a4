"""Connect forms, one per channel: each asks for what that channel's API needs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from orders.enums import Channel


class ConnectForm(forms.Form):
    channel: Channel
    credential_fields: tuple[str, ...] = ()

    name = forms.CharField(label=_("Store name"), max_length=200)

    def connect_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "channel": self.channel,
            "name": data["name"],
            "base_url": data.get("base_url", ""),
            "domain": data.get("domain", ""),
            "credentials": {key: data[key] for key in self.credential_fields if data.get(key)},
            "webhook_secret": data.get("webhook_secret", ""),
        }


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
    base_url = forms.URLField(
        assume_scheme="https",
        label=_("Shop URL"),
        max_length=500,
        required=False,
        help_text=_("Leave empty to use https://<shop domain>"),
    )
    access_token = _secret(_("Admin API access token"))
    webhook_secret = _secret(_("Webhook signing secret (app API secret)"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("domain") and not data.get("base_url"):
            raise forms.ValidationError(_("Give the shop domain or the shop URL."))
        return data


class WooCommerceConnectForm(ConnectForm):
    channel = Channel.WOOCOMMERCE
    credential_fields = ("consumer_key", "consumer_secret")

    base_url = forms.URLField(
        assume_scheme="https", label=_("Site URL"), max_length=500, help_text=_("The WordPress site address")
    )
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
    base_url = forms.URLField(
        assume_scheme="https",
        label=_("API address"),
        max_length=500,
        required=False,
        help_text=_("Leave empty for TikTok Shop's own"),
    )


CONNECT_FORMS: dict[str, type[ConnectForm]] = {
    Channel.SHOPIFY: ShopifyConnectForm,
    Channel.WOOCOMMERCE: WooCommerceConnectForm,
    Channel.TIKTOK: TikTokConnectForm,
}
