"""Who the privacy pages are about: the signed-in account, or the person a consent link let in.

A consent link answered opens a short session (DIHYA_CONSENT_LINK_SESSION_SECONDS) bound to
that one person at that one client, with no password and no Django login: it reaches the
privacy pages only, never the console, and only for a person whose id at that client a link or
that client's consent API call made. Whoever can sign in (a password, the identity provider),
staff, and people an admin linked, sign in to see their page: a client can name them, and get
a link for the name, so a link must not open their data. What a link session shows, downloads
and erases is that client's part only (`dihya.privacy.person`). Nothing here takes a person's
id from a URL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

from audit.models import ExternalIdentity
from dihya.gateway.models import ApiClient

PERSON = "dihya_person"  # session key: the person's account id
CLIENT = "dihya_person_client"  # the name of the client whose link opened the session
CLIENT_ID = "dihya_person_client_id"  # and its id: what the session is limited to
MADE_BY_CLIENT = (ExternalIdentity.Source.LINK, ExternalIdentity.Source.API)


def may_open(user: AbstractBaseUser, client_id: int | None) -> bool:
    """Only a person the client brought (their id at that client made by its link or its
    consent API), who cannot sign in (no password, no identity provider) and is not staff."""
    if (client_id is None or not user.is_active or user.has_usable_password()
            or getattr(user, "is_staff", False)):
        return False
    mine = ExternalIdentity.objects.filter(user_id=user.pk)
    return (mine.filter(client_id=client_id, source__in=MADE_BY_CLIENT).exists()
            and not mine.filter(source=ExternalIdentity.Source.SSO).exists())


def begin(request: HttpRequest, user: AbstractBaseUser, client_id: int, client_name: str
          ) -> bool:
    """Bind this browser's session to the person at this client; False when they must sign
    in instead."""
    if not may_open(user, client_id):
        return False
    request.session.cycle_key()  # a fresh session id: a planted one gains nothing
    request.session[PERSON] = user.pk
    request.session[CLIENT] = client_name
    request.session[CLIENT_ID] = client_id
    request.session.set_expiry(settings.DIHYA_CONSENT_LINK_SESSION_SECONDS)
    return True


def client_of(request: HttpRequest) -> ApiClient | None:
    """The client a link session is limited to; None for a signed-in person (everything)."""
    if request.user.is_authenticated:
        return None
    return ApiClient.objects.get(pk=request.session[CLIENT_ID])  # person_of checked it


def end(request: HttpRequest) -> None:
    request.session.flush()


def person_of(request: HttpRequest) -> AbstractBaseUser | None:
    """The signed-in account, else the person of the link session, else None."""
    if request.user.is_authenticated:
        return request.user
    pk = request.session.get(PERSON)
    if pk is None:
        return None
    found = get_user_model()._default_manager.filter(pk=pk).first()
    client_id = request.session.get(CLIENT_ID)
    if (found is None or not may_open(found, client_id)
            or not ApiClient.objects.filter(pk=client_id or 0).exists()):
        end(request)
        return None
    return found


def person_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Like login_required, but a link session counts; the view reads `request.person`."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        person = person_of(request)
        if person is None:
            return redirect_to_login(request.get_full_path())
        request.person = person  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def the_person(request: HttpRequest) -> AbstractBaseUser:
    """The person `person_required` found for this request."""
    return request.person  # type: ignore[attr-defined]
