from __future__ import annotations

from django.urls import path

from sandbox.providers.cj import views

urlpatterns = [
    path("authentication/getAccessToken", views.get_access_token, name="cj-get-access-token"),
    path("authentication/refreshAccessToken", views.refresh_access_token, name="cj-refresh-access-token"),
    path("shopping/order/createOrderV2", views.create_order, name="cj-create-order"),
    path("shopping/pay/payBalance", views.pay_balance, name="cj-pay-balance"),
    path("shopping/pay/getBalance", views.get_balance, name="cj-get-balance"),
    path("shopping/order/deleteOrder", views.delete_order, name="cj-delete-order"),
    path("shopping/order/getOrderDetail", views.order_detail, name="cj-order-detail"),
    path("disputes/create", views.dispute_create, name="cj-dispute-create"),
    path("disputes/getDisputeList", views.dispute_list, name="cj-dispute-list"),
]
