from __future__ import annotations

from django.urls import path

from sandbox.providers.track17 import views

urlpatterns = [
    path("register", views.register, name="track17-register"),
    path("gettrackinfo", views.gettrackinfo, name="track17-gettrackinfo"),
    path("stoptrack", views.stoptrack, name="track17-stoptrack"),
    path("retrack", views.retrack, name="track17-retrack"),
    path("deletetrack", views.deletetrack, name="track17-deletetrack"),
    path("getquota", views.getquota, name="track17-getquota"),
]
