"""Mounted at /sandbox/ when SANDBOX_ENABLED is on. Providers add their own url modules here."""

from __future__ import annotations

from django.urls import path

from sandbox import control

urlpatterns = [
    path("_control/accounts", control.accounts, name="sandbox-control-accounts"),
    path("_control/clock", control.clock, name="sandbox-control-clock"),
    path("_control/faults", control.fault_rates, name="sandbox-control-faults"),
    path("_control/ledger", control.ledger, name="sandbox-control-ledger"),
    path("_control/fulfillments", control.fulfillments, name="sandbox-control-fulfillments"),
    path("_control/<str:provider>/<str:name>/orders", control.create_orders, name="sandbox-control-orders"),
]
