from __future__ import annotations

from django.contrib import admin

from channels_sync.models import Store


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "domain", "account", "created_at")
    list_filter = ("channel", "account")
    search_fields = ("name", "domain", "account__name")
    autocomplete_fields = ("account",)
