from __future__ import annotations

from django.urls import path

from sandbox.providers.cj import disputes, views

urlpatterns = [
    path("authentication/getAccessToken", views.get_access_token, name="cj-get-access-token"),
    path("authentication/refreshAccessToken", views.refresh_access_token, name="cj-refresh-access-token"),
    path("shopping/order/createOrderV2", views.create_order, name="cj-create-order"),
    path("shopping/pay/payBalance", views.pay_balance, name="cj-pay-balance"),
    path("shopping/pay/getBalance", views.get_balance, name="cj-get-balance"),
    path("shopping/order/deleteOrder", views.delete_order, name="cj-delete-order"),
    path("shopping/order/getOrderDetail", views.order_detail, name="cj-order-detail"),
    path("disputes/disputeProducts", disputes.dispute_products, name="cj-dispute-products"),
    path("disputes/disputeConfirmInfo", disputes.dispute_confirm_info, name="cj-dispute-confirm-info"),
    path("disputes/create", disputes.dispute_create, name="cj-dispute-create"),
    path("disputes/cancel", disputes.dispute_cancel, name="cj-dispute-cancel"),
    path("disputes/getDisputeList", disputes.dispute_list, name="cj-dispute-list"),
]
