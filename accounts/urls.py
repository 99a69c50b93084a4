from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

# Included at the site root: sign-in under /accounts/, the Members page at /members/.
urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/switch/", views.switch_account, name="switch"),
    path("accounts/language/", views.language_choose, name="language"),
    path("members/time-zone/", views.account_time_zone, name="time_zone"),
    path("members/", views.members, name="members"),
    path("members/add/", views.member_add_view, name="member_add"),
    path("members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("members/<int:membership_id>/remove/", views.member_remove_view, name="member_remove"),
]
