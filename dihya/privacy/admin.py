"""The "erase this person" action on users, with a confirmation page listing what will go; the
people list's search and "withdraw consent" (`dihya.privacy.people_admin`); each person's page
(`dihya.privacy.person_page`).

Lives in the wiring because erasure spans every app (`dihya.privacy.erasure`). It extends whatever
admin class the User model already has, so other apps' changes to the user admin survive.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from audit.models import AuditEvent, Consent
from dihya.privacy import erasure
from dihya.privacy.people_admin import people_admin
from dihya.privacy.person_page import PersonPages


@admin.action(description="Erase this person (all their data and account)",
              permissions=["delete"])
def erase_person(modeladmin: admin.ModelAdmin, request: HttpRequest,
                 queryset: QuerySet[Any]) -> HttpResponse | None:
    users = [u for u in queryset if u.pk != request.user.pk]
    if request.POST.get("confirm") == "yes":
        for user in users:
            receipt = erasure.erase(user, by="admin")
            modeladmin.message_user(request, f"Erased; receipt {receipt.pk}.", messages.SUCCESS)
        return None
    people = []
    for user in users:
        p = erasure.person(user)
        people.append({"user": user, "generations": len(p.generation_ids),
                       "consents": Consent.objects.filter(user=user).count(),
                       "events": AuditEvent.objects.filter(person__in=p.persons).count(),
                       "plugins": [plugin.name for plugin in erasure.plugins()]})
    return TemplateResponse(request, "privacy/admin_erase_confirm.html", {
        **modeladmin.admin_site.each_context(request), "title": "Erase these people?",
        "people": people, "queryset": queryset, "opts": modeladmin.model._meta,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "skipped_self": len(users) != len(queryset)})


def _install() -> None:
    """The User model's admin, whichever it is, becomes the people list of
    `dihya.privacy.people_admin` with the erase action."""
    User = get_user_model()
    model_admin = admin.site._registry.get(User)
    if model_admin is None:
        return
    admin.site.unregister(User)
    people = people_admin(type(model_admin), erase_person)
    admin.site.register(User, type(people.__name__, (PersonPages, people), {}))


_install()
