from __future__ import annotations

from django.urls import path

from dihya.privacy import links, views

app_name = "privacy"
urlpatterns = [
    path("", views.index, name="index"),
    path("consent/<slug:slug>/grant/", views.grant, name="grant"),
    path("consent/<slug:slug>/withdraw/", views.withdraw, name="withdraw"),
    path("export/", views.export, name="export"),
    path("erase/", views.erase, name="erase"),
    path("leave/", views.leave, name="leave"),
    path("link/<str:token>/", links.link, name="link"),
]
