"""What the identity provider's claims may do here: an unverified e-mail names nobody, and a
roles map is the only way a claim becomes a role (the provider itself: tests/browser)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from dihya.console import roles
from dihya.console.sso import OrganisationBackend
from dihya.gateway.models import ApiClient
from dihya.generation import identity


@pytest.fixture
def groups(db):
    roles.ensure()
    return Group.objects.all()


def sign_in(claims: dict):
    """The backend's first sign-in for these claims, as the callback would run it."""
    return OrganisationBackend().create_user(claims)


def test_an_unverified_email_is_not_the_accounts(groups):
    user = sign_in({"sub": "s-1", "email": "victim@example.org", "email_verified": False})
    other = sign_in({"sub": "s-2", "email": "ann@example.org"})  # no claim at all

    assert user.email == "" and "victim" not in user.username
    assert other.email == ""


def test_a_verified_email_is_kept_and_follows_the_provider(groups):
    user = sign_in({"sub": "s-1", "email": "ann@example.org", "email_verified": True})
    assert user.email == "ann@example.org"

    OrganisationBackend().update_user(user, {"sub": "s-1", "email": "ann@example.org",
                                             "email_verified": False})
    user.refresh_from_db()
    assert user.email == ""


def test_an_unverified_email_neither_takes_over_nor_blocks_a_person_at_an_email_client(
        groups, django_user_model):
    app = ApiClient.objects.create(name="mailer", end_users=True, user_ids="email")
    sign_in({"sub": "s-evil", "email": "nobody@example.org", "email_verified": False})
    assert identity.resolve(app, "nobody@example.org") is None

    victim = django_user_model.objects.create_user("vic", email="victim@example.org")
    sign_in({"sub": "s-evil-2", "email": "victim@example.org", "email_verified": False})

    assert identity.resolve(app, "victim@example.org") == victim


@pytest.mark.parametrize("value", [roles.OPERATORS, roles.AUDITORS])
def test_a_claim_spelled_like_a_role_grants_nothing_when_a_map_is_set(groups, settings, value):
    settings.DIHYA_OIDC_ROLES_MAP = {"llm-admins": roles.OPERATORS}

    user = sign_in({"sub": "s-1", settings.DIHYA_OIDC_ROLES_CLAIM: [value]})

    assert not user.groups.exists() and not user.is_staff


def test_a_mapped_claim_grants_its_role(groups, settings):
    settings.DIHYA_OIDC_ROLES_MAP = {"llm-admins": roles.OPERATORS}

    user = sign_in({"sub": "s-1", settings.DIHYA_OIDC_ROLES_CLAIM: ["llm-admins"]})

    assert list(user.groups.values_list("name", flat=True)) == [roles.OPERATORS]
