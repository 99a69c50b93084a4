"""The suppliers app's pages, one URL namespace ``suppliers`` (included at the site root by
zopi/urls.py): the supplier accounts at ``/suppliers/``, the product links at ``/links/``."""

from __future__ import annotations

from django.urls import include, path

from suppliers import urls_links, views_accounts

app_name = "suppliers"

accounts_patterns = [
    path("", views_accounts.suppliers_page, name="accounts"),
    path("aliexpress/connect/", views_accounts.aliexpress_connect, name="aliexpress_connect"),
    path("aliexpress/callback/", views_accounts.aliexpress_callback_view, name="aliexpress_callback"),
    path("cj/connect/", views_accounts.cj_connect_view, name="cj_connect"),
    path("temu/connect/", views_accounts.temu_connect_view, name="temu_connect"),
    path("accounts/<int:source_account_id>/disconnect/", views_accounts.disconnect, name="disconnect"),
    path("accounts/<int:source_account_id>/payment/", views_accounts.payment_mode, name="payment_mode"),
    path("accounts/<int:source_account_id>/balance/", views_accounts.balance_refresh, name="balance_refresh"),
]

urlpatterns = [
    path("suppliers/", include(accounts_patterns)),
    path("links/", include(urls_links.urlpatterns)),
]
