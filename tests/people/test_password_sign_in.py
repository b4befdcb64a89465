"""Password sign-in stays for the bootstrap admin; it can be turned off for everyone else."""

from __future__ import annotations

from django.test import Client


def test_it_can_be_turned_off_for_everyone_but_superusers(db, django_user_model, settings):
    django_user_model.objects.create_user("alice", password="alice-password")
    django_user_model.objects.create_superuser("admin", "a@example.org", "admin-password")
    settings.DIHYA_PASSWORD_SIGN_IN = False

    alice = Client().post("/accounts/login/", {"username": "alice", "password": "alice-password"})
    admin = Client().post("/accounts/login/", {"username": "admin", "password": "admin-password"})

    assert alice.status_code == 200 and b"didn" in alice.content  # the form again, refused
    assert admin.status_code == 302


def test_it_is_on_for_everyone_by_default(db, django_user_model):
    django_user_model.objects.create_user("alice", password="alice-password")

    signed_in = Client().post("/accounts/login/",
                              {"username": "alice", "password": "alice-password"})

    assert signed_in.status_code == 302


def test_the_sign_in_page_offers_the_provider_when_there_is_one(db, settings):
    assert b'id="sso"' not in Client().get("/accounts/login/").content
    settings.DIHYA_OIDC_ISSUER = "http://127.0.0.1:9"

    assert b'id="sso"' in Client().get("/accounts/login/").content
