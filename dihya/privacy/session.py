"""Who the privacy pages are about: the signed-in account, or the person a consent link let in.

A consent link answered opens a short session (DIHYA_CONSENT_LINK_SESSION_SECONDS) bound to
that one person, with no password and no Django login: it reaches the privacy pages only,
never the console, and only for people a link or the consent API made (accounts with no
usable password). Someone with a real account, or staff, signs in to see their page, so that
a client cannot open anyone's data by naming them. Nothing here takes a person's id from a URL.
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

PERSON = "dihya_person"  # session key: the person's account id
CLIENT = "dihya_person_client"  # the client whose link opened the session


def may_open(user: AbstractBaseUser) -> bool:
    """Only people without a password (made by links or the API) enter through a link."""
    return (user.is_active and not user.has_usable_password()
            and not getattr(user, "is_staff", False))


def begin(request: HttpRequest, user: AbstractBaseUser, client_name: str) -> bool:
    """Bind this browser's session to the person; False when they must sign in instead."""
    if not may_open(user):
        return False
    request.session.cycle_key()  # a fresh session id: a planted one gains nothing
    request.session[PERSON] = user.pk
    request.session[CLIENT] = client_name
    request.session.set_expiry(settings.DIHYA_CONSENT_LINK_SESSION_SECONDS)
    return True


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
    if found is None or not may_open(found):
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
