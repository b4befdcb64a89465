"""Sign-in with the organisation's identity provider (OpenID Connect), and password sign-in.

Built on mozilla-django-oidc (docs/security.md says why): its views run the authorization-code
flow with state, nonce and PKCE, its backend checks the ID token's signature against the
provider's keys. What is ours: the provider's endpoints come from its discovery document
(DIHYA_OIDC_ISSUER + /.well-known/openid-configuration, read once per process), the person
is found by the provider's `sub` (an `audit` identity of source SSO: never by e-mail, so that
an address someone else registers at the provider cannot take an account over), accounts are
made on first sign-in, deactivated accounts are refused, and the roles claim sets the console
groups at every sign-in (only the mapped values when DIHYA_OIDC_ROLES_MAP is set). The
account's e-mail is the provider's only when `email_verified` is true, at every sign-in:
clients whose `user_ids` are e-mail addresses find people by it, so an address someone merely
typed at the provider must not name anyone here. Password sign-in stays for superusers (the
bootstrap admin) and, unless DIHYA_PASSWORD_SIGN_IN is off, for everyone.

Sign-ins are audit events naming the person by pseudonym. Nothing here logs a token or a claim.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.contrib.auth.views import LoginView
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from audit import identities, log
from dihya.console import roles
from dihya.lib.pseudonyms import pseudonym

ENDPOINTS = {"OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
             "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
             "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
             "OIDC_OP_JWKS_ENDPOINT": "jwks_uri"}

_discovered: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def enabled() -> bool:
    return bool(settings.DIHYA_OIDC_ISSUER)


def discovery() -> dict[str, Any]:
    """The provider's metadata, fetched once per process and issuer."""
    issuer = settings.DIHYA_OIDC_ISSUER
    with _lock:
        if issuer not in _discovered:
            response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
            response.raise_for_status()
            document = response.json()
            if document.get("issuer", "").rstrip("/") != issuer:
                raise ImproperlyConfigured("DIHYA_OIDC_ISSUER does not match the issuer its "
                                           "discovery document names")
            _discovered[issuer] = document
        return _discovered[issuer]


def setting(attr: str, *default: Any) -> Any:
    """What mozilla-django-oidc asks for: endpoints from discovery, the client from ours."""
    if attr in ENDPOINTS:
        return discovery()[ENDPOINTS[attr]]
    ours = {"OIDC_RP_CLIENT_ID": settings.DIHYA_OIDC_CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": settings.DIHYA_OIDC_CLIENT_SECRET,
            "OIDC_RP_SCOPES": settings.DIHYA_OIDC_SCOPES}
    if attr in ours:
        return ours[attr]
    return import_from_settings(attr, *default)


def roles_from(claims: dict[str, Any]) -> tuple[set[str], bool]:
    """(Dihya groups, superuser?) that the roles claim gives."""
    values = claims.get(settings.DIHYA_OIDC_ROLES_CLAIM) or []
    if isinstance(values, str):
        values = [values]
    known = set(roles.ROLES)
    mapping = settings.DIHYA_OIDC_ROLES_MAP
    names = [v for v in values if isinstance(v, str)]
    # With a map, only what it maps: a claim value that happens to be spelled "Operators"
    # must not grant the role the map gives to something else.
    groups = {mapping[v] for v in names if v in mapping} if mapping else set(names)
    superuser = bool(settings.DIHYA_OIDC_SUPERUSER_ROLE) and (
        settings.DIHYA_OIDC_SUPERUSER_ROLE in values)
    return groups & known, superuser


def verified_email(claims: dict[str, Any]) -> str:
    """The `email` claim if the provider says it verified it (the boolean true), else ""."""
    email = claims.get("email")
    return email[:254] if isinstance(email, str) and claims.get("email_verified") is True else ""


class OrganisationBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if enabled():  # else the backend is inert: authenticate() needs a code from a provider
            super().__init__(*args, **kwargs)
        else:
            self.UserModel = get_user_model()

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        if not enabled() or request is None or "nonce" not in kwargs:
            return None
        return super().authenticate(request, **kwargs)

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        found = identities.find_sso(str(claims["sub"]))
        return self.UserModel.objects.filter(pk=found.pk) if found else \
            self.UserModel.objects.none()

    def create_user(self, claims: dict[str, Any]) -> Any:
        wanted = str(claims.get("preferred_username") or verified_email(claims))[:140]
        username = wanted
        if not username or self.UserModel.objects.filter(username=username).exists():
            username = f"{wanted or 'sso'}-{pseudonym(str(claims['sub']))[2:10]}"
        with transaction.atomic():
            user = self.UserModel.objects.create_user(username, email=verified_email(claims))
            user.set_unusable_password()
            user.save()
            identities.link_sso(user, str(claims["sub"]))
        return self.update_user(user, claims, created=True)

    def update_user(self, user: Any, claims: dict[str, Any], created: bool = False) -> Any:
        if not user.is_active:
            return user  # the callback refuses inactive accounts
        groups, superuser = roles_from(claims)
        role_groups = Group.objects.filter(name__in=list(roles.ROLES))
        user.groups.remove(*role_groups.exclude(name__in=groups))
        user.groups.add(*role_groups.filter(name__in=groups))
        user.is_superuser = superuser
        user.is_staff = superuser or bool(groups)
        user.email = verified_email(claims)
        user.save(update_fields=["is_superuser", "is_staff", "email"])
        log.record("sso_sign_in", subject=pseudonym(user.get_username()), actor="sso",
                   details={"roles": sorted(groups) + (["superuser"] if superuser else []),
                            "created": created})
        return user


class PasswordBackend(ModelBackend):
    """Passwords for everyone, or (DIHYA_PASSWORD_SIGN_IN off) for superusers only."""

    def user_can_authenticate(self, user: Any) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return settings.DIHYA_PASSWORD_SIGN_IN or bool(getattr(user, "is_superuser", False))


class Login(LoginView):
    """The sign-in page, with a button for the identity provider when there is one."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "sso": enabled(),
                "passwords": settings.DIHYA_PASSWORD_SIGN_IN}


class SignIn(OIDCAuthenticationRequestView):
    get_settings = staticmethod(setting)


class Callback(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(setting)
