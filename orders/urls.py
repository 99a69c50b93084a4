from __future__ import annotations

from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.order_center, name="center"),
    path("<int:order_id>/", views.order_detail, name="detail"),
    path("<int:order_id>/address/", views.order_address_edit, name="address_edit"),
    path("<int:order_id>/confirm-duplicate/", views.order_confirm_duplicate_view, name="confirm_duplicate"),
    path("archive/", views.orders_bulk_archive, {"archived": True}, name="archive"),
    path("restore/", views.orders_bulk_archive, {"archived": False}, name="restore"),
]
