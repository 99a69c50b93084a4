"""Support's view of stores, webhook deliveries, provider attempts, fulfillment pushes and carrier
mappings. Secrets are never shown: "•••• set" at most."""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from channels_sync.carriers import carrier_key
from channels_sync.enums import PushState
from channels_sync.models import (
    CarrierMapping,
    ChannelAuthorization,
    ComplianceRequest,
    FulfillmentPush,
    ProviderAttempt,
    Store,
    WebhookDelivery,
)
from channels_sync.services import deliveries_replay
from channels_sync.services.compliance import compliance_requests_replay
from channels_sync.services.push import PushRetryRefused, fulfillment_push_retry
from channels_sync.services.push_carriers import carrier_mapping_problem
from channels_sync.views_push import _enqueue_run


def _secret_state(token: str) -> str:
    return str(_("•••• set")) if token else str(_("not set"))


class StoreAdminForm(forms.ModelForm):
    """The (account, name) rule checked here: ``account`` is read-only, so Django's own unique
    check leaves it out and a taken name would reach the database as an IntegrityError (a 500)."""

    class Meta:
        model = Store
        fields = ("name", "status")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = Store.objects.filter(account_id=self.instance.account_id, name=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("This account already has a store with this name."))
        return name


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    """Stores are connected by merchants (the connect form checks the host and the token), never added
    here. Where a store's token is sent (channel, base URL), which shop it is (domain) and whose it is
    (account) are read-only: changing them would send the token elsewhere or split a store's orders
    between tenants. Support may rename a store or change its status."""

    form = StoreAdminForm
    list_display = (
        "name",
        "channel",
        "domain",
        "account",
        "status",
        "auth_kind",
        "last_pull_at",
        "last_webhook_at",
        "created_at",
    )
    list_filter = ("channel", "status", "auth_kind", "account")
    search_fields = ("name", "domain", "account__name", "=public_id")
    # The encrypted fields are not editable and never rendered; these say only whether one is set.
    readonly_fields = (
        "account",
        "channel",
        "base_url",
        "domain",
        "shop_id",  # what a signed webhook must name (a delivery naming another shop is refused)
        "auth_kind",  # the operator's app (approval page) or pasted keys
        "token_expires_at",
        "refresh_expires_at",
        "token_refreshing_until",
        "connected_at",
        "public_id",
        "credentials_state",
        "webhook_secret_state",
        "last_error",
        "last_pull_at",
        "last_webhook_at",
        "pull_cursor",
        "sync_lock_until",
        "pull_started_at",
        "pull_orders",
        "pull_failures",
        "next_pull_at",
        "created_at",
    )
    fields = ("name", "status", *readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("credentials"))
    def credentials_state(self, store: Store) -> str:
        return _secret_state(store.credentials_token)

    @admin.display(description=_("webhook secret"))
    def webhook_secret_state(self, store: Store) -> str:
        return _secret_state(store.webhook_secret_token)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("received_at", "store", "topic", "state", "attempts", "last_attempt_at", "error")
    list_filter = ("state", "store__channel", "topic")
    search_fields = ("=dedupe_key", "store__name", "error")
    list_select_related = ("store",)
    date_hierarchy = "received_at"
    show_full_result_count = False
    actions = ("replay",)
    readonly_fields = (
        "store",
        "dedupe_key",
        "topic",
        "state",
        "error",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",  # a retry the channel asked to wait for (Retry-After): the sweep leaves it alone
        "order_ids",
        "received_at",
        "processed_at",
        "headers",
        "raw_body",
    )
    exclude = ("body",)

    @admin.display(description=_("raw body"))
    def raw_body(self, delivery: WebhookDelivery) -> str:
        return delivery.body_text()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    @admin.action(description=_("Replay selected deliveries (after a fix)"))
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = deliveries_replay(delivery_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(
            request,
            ngettext("%(n)s delivery queued again.", "%(n)s deliveries queued again.", len(queued))
            % {"n": len(queued)},
        )


@admin.register(ProviderAttempt)
class ProviderAttemptAdmin(admin.ModelAdmin):
    """Every outbound call attempt (read-only): what a channel answered, how long it took, why it failed."""

    list_display = ("created_at", "provider", "store", "method", "path", "status", "duration_ms", "error")
    list_filter = ("provider", "status", ("store", admin.RelatedOnlyFieldListFilter))
    search_fields = ("path",)
    list_select_related = ("store",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = ("created_at", "provider", "store", "method", "path", "status", "duration_ms", "error")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ProviderAttempt | None = None) -> bool:
        return False


@admin.register(ChannelAuthorization)
class ChannelAuthorizationAdmin(admin.ModelAdmin):
    """Approvals asked of the channels (read-only), for support: who asked, for which shop, how it
    ended and why. The state's digest, the session's and the grant held meanwhile are not shown."""

    list_display = ("created_at", "channel", "account", "shop", "store_name", "state", "used_at", "expires_at")
    list_filter = ("channel", "state")
    search_fields = ("shop", "store_name", "account__name")
    list_select_related = ("account",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "account",
        "user",
        "channel",
        "shop",
        "store_name",
        "store",
        "state",
        "error",
        "expires_at",
        "used_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ChannelAuthorization | None = None) -> bool:
        return False


@admin.register(ComplianceRequest)
class ComplianceRequestAdmin(admin.ModelAdmin):
    """Shopify's compliance requests and what was done for each (read-only). The raw body (it
    names the customer) is never shown and is dropped once processed; the outcome lists the
    stores, order numbers and fields found or erased."""

    list_display = ("received_at", "topic", "shop_domain", "state", "attempts", "processed_at", "error")
    list_filter = ("topic", "state")
    search_fields = ("=shop_domain", "=webhook_id", "=channel_customer_id", "=data_request_id")
    date_hierarchy = "received_at"
    actions = ("replay",)
    readonly_fields = (
        "topic",
        "shop_domain",
        "channel_shop_id",
        "channel_customer_id",
        "data_request_id",
        "webhook_id",
        "state",
        "outcome",
        "error",
        "attempts",
        "received_at",
        "processed_at",
        "body_kept",
    )
    exclude = ("body",)

    @admin.display(description=_("raw body"))
    def body_kept(self, request: ComplianceRequest) -> str:
        return str(_("kept until processed")) if request.body else str(_("dropped"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ComplianceRequest | None = None) -> bool:
        return False

    @admin.action(description=_("Process selected failed requests again (after a fix)"))
    def replay(self, request: HttpRequest, queryset: QuerySet[ComplianceRequest]) -> None:
        queued = compliance_requests_replay(request_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(
            request,
            ngettext("%(n)s request queued again.", "%(n)s requests queued again.", len(queued)) % {"n": len(queued)},
        )


@admin.register(FulfillmentPush)
class FulfillmentPushAdmin(admin.ModelAdmin):
    """The push-back outbox, read-only: support sees what was sent, the channel's error, and retries
    failed pushes (after the merchant or the channel fixed the cause)."""

    list_display = (
        "order_number",
        "store",
        "tracking_number",
        "carrier_sent",
        "state",
        "attempts",
        "last_error",
        "updated_at",
    )
    list_filter = ("state", "store__channel")
    search_fields = ("=tracking_number", "=order__number")
    list_select_related = ("store", "order")
    show_full_result_count = False
    actions = ("retry",)
    readonly_fields = tuple(
        field.name for field in FulfillmentPush._meta.get_fields() if getattr(field, "concrete", False)
    )

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """The retry action: staff who may change pushes (the change page itself stays read-only)."""
        return bool(request.user.has_perm("channels_sync.change_fulfillmentpush"))

    @admin.display(description=_("order"), ordering="order__number")
    def order_number(self, push: FulfillmentPush) -> str:
        return push.order.number

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: FulfillmentPush | None = None) -> bool:
        return False

    @admin.action(description=_("Retry the selected failed pushes"), permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[FulfillmentPush]) -> None:
        retried, skipped = 0, queryset.exclude(state=PushState.FAILED).count()  # before any is sent again
        for push in list(queryset.filter(state=PushState.FAILED).select_related("account")):
            try:
                fulfillment_push_retry(account=push.account, push_id=push.pk, actor=request.user)  # type: ignore[arg-type]
            except PushRetryRefused:  # no longer failed (retried elsewhere meanwhile)
                skipped += 1
                continue
            transaction.on_commit(partial(_enqueue_run, push.pk))  # the broker away: the sweep runs it
            retried += 1
        self.message_user(
            request,
            ngettext("%(n)s push sent again.", "%(n)s pushes sent again.", retried) % {"n": retried}
            + (
                " " + ngettext("%(n)s push had not failed.", "%(n)s pushes had not failed.", skipped) % {"n": skipped}
                if skipped
                else ""
            ),
        )


class CarrierMappingAdminForm(forms.ModelForm):
    """The carrier mapping page's checks (``carrier_mapping_problem``) as a form error, never an
    IntegrityError: a name the account maps already, a name that is only punctuation."""

    class Meta:
        model = CarrierMapping
        fields = ("channel", "supplier_carrier", "channel_carrier")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or self.instance.account_id is None:
            return data
        problem = carrier_mapping_problem(
            account=self.instance.account,
            channel=str(data.get("channel") or ""),
            supplier_carrier=str(data.get("supplier_carrier") or ""),
            channel_carrier=str(data.get("channel_carrier") or ""),
            mapping_id=self.instance.pk,
        )
        if problem:
            raise forms.ValidationError(problem)
        return data


@admin.register(CarrierMapping)
class CarrierMappingAdmin(admin.ModelAdmin):
    """Accounts' own carrier names (merchants edit them on the carrier mapping page)."""

    form = CarrierMappingAdminForm
    list_display = ("account", "channel", "supplier_carrier", "channel_carrier", "updated_at")
    list_filter = ("channel",)
    search_fields = ("supplier_carrier", "channel_carrier", "account__name")
    list_select_related = ("account",)
    readonly_fields = ("account", "supplier_carrier_key", "created_at", "updated_at")
    fields = (
        "account",
        "channel",
        "supplier_carrier",
        "supplier_carrier_key",
        "channel_carrier",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CarrierMapping, form: Any, change: bool) -> None:
        obj.supplier_carrier_key = carrier_key(obj.supplier_carrier)
        super().save_model(request, obj, form, change)
