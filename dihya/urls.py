from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dihya.api import api, messages
from dihya.console import sso
from dihya.observability import views as observability

urlpatterns = [
    path("admin/", admin.site.urls),
    # People's own pages (consent, download, erasure) and their sign-in.
    path("privacy/", include("dihya.privacy.urls")),
    path("accounts/login/", sso.Login.as_view(redirect_authenticated_user=True), name="login"),
    # Sign-in with the organisation's identity provider (when DIHYA_OIDC_ISSUER is set).
    path("accounts/oidc/", include("mozilla_django_oidc.urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("metrics", observability.metrics, name="metrics"),  # in the API lane: dihya/lanes.py
    # /v1/… (OpenAI-compatible), /api/v1/… (jobs), /api/v1/docs, /api/v1/openapi.json
    path("", messages.probe),  # HEAD /: Claude Code's check that the base URL answers
    path("", api.urls),
]
