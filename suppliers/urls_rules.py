from __future__ import annotations

from django.urls import path

from suppliers import views_rules

app_name = "rules"

urlpatterns = [
    path("", views_rules.rules, name="list"),
    path("<int:store_id>/", views_rules.rule_save, name="save"),
]
