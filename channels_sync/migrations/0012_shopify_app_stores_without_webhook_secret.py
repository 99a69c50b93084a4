"""Shopify stores connected as the operator's app were given the app's client secret as their own
webhook secret: after the operator rotates it their webhooks would be refused. They keep none now
(``ShopifyProvider.verify_webhook`` reads the app's secrets from the settings)."""

from django.db import migrations


def forget_copied_app_secret(apps, schema_editor):  # type: ignore[no-untyped-def]
    Store = apps.get_model("channels_sync", "Store")
    Store.objects.filter(channel="shopify", auth_kind="app").exclude(webhook_secret_token="").update(
        webhook_secret_token=""
    )


class Migration(migrations.Migration):
    dependencies = [
        ("channels_sync", "0011_store_connected_at"),
    ]

    operations = [
        migrations.RunPython(forget_copied_app_secret, migrations.RunPython.noop),
    ]
