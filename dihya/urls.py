from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dihya.api import api
from dihya.observability import views as observability

urlpatterns = [
    path("admin/", admin.site.urls),
    # People's own pages (consent, download, erasure) and their sign-in.
    path("privacy/", include("dihya.privacy.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True),
         name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("metrics", observability.metrics, name="metrics"),  # in the API lane: dihya/api/lane.py
    # /v1/… (OpenAI-compatible), /api/v1/… (jobs), /api/v1/docs, /api/v1/openapi.json
    path("", api.urls),
]
