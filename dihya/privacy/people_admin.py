"""The people list as a data-protection officer uses it.

A request names a person as an app knows them ("alice-42" at the client `shop`), by e-mail or
by username; the list finds all three, and shows beside each person the ids apps know them by,
with the client's name. The "withdraw consent" action does for a person what their privacy
page does (`audit.consent.withdraw`), with the officer's reason in the audit event; the very
next call for them is refused (the per-process memory of consents forgets on withdrawal).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from audit import consent
from audit.models import Consent
from dihya.gateway.models import ApiClient

EVERY_CLIENT = "every client"


class WithdrawalForm(forms.Form):
    reason = forms.CharField(
        max_length=500, strip=True, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why, in a few words (e.g. the person's request of 4 December by e-mail). "
                  "Kept in the audit log with the withdrawal.")


@admin.action(description="Withdraw consent to generation (with a reason)",
              permissions=["change"])
def withdraw_consent(modeladmin: admin.ModelAdmin, request: HttpRequest,
                     queryset: QuerySet[Any]) -> HttpResponse | None:
    form = WithdrawalForm(request.POST if request.POST.get("confirm") == "yes" else None)
    if form.is_valid():
        actor = f"admin {request.user.get_username()}"
        for user in queryset:
            count = consent.withdraw(user, consent.GENERATION, how=Consent.How.ADMIN,
                                     actor=actor, reason=form.cleaned_data["reason"])
            if count:
                modeladmin.message_user(
                    request, f"{user.get_username()}: consent withdrawn; their next call is "
                             "refused until they consent again.", messages.SUCCESS)
            else:
                modeladmin.message_user(request, f"{user.get_username()}: had no consent to "
                                        "withdraw.", messages.WARNING)
        return None
    people = [{"user": user, "known_as": known_as(user, client_names(queryset)),
               "active": consent.active_consent(user, consent.GENERATION)}
              for user in queryset]
    return TemplateResponse(request, "privacy/admin_withdraw_confirm.html", {
        **modeladmin.admin_site.each_context(request),
        "title": "Withdraw these people's consent?", "people": people, "form": form,
        "queryset": queryset, "opts": modeladmin.model._meta,
        "action_checkbox_name": ACTION_CHECKBOX_NAME})


def client_names(users: Any) -> dict[int, str]:
    ids = {identity.client_id for user in users for identity in user.external_identities.all()
           if identity.client_id}
    return dict(ApiClient.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def known_as(user: Any, names: dict[int, str]) -> str:
    """`alice-42 at shop, a@b.example at every client`: the ids apps send for this person."""
    return ", ".join(
        f"{identity.external_id} at "
        + (names.get(identity.client_id, f"client {identity.client_id} (deleted)")
           if identity.client_id else EVERY_CLIENT)
        for identity in user.external_identities.all())


class PeopleChangeList(ChangeList):
    """Looks the page's clients up once, for every row's "known to apps as"."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        names = client_names(self.result_list)
        for user in self.result_list:
            user.dihya_client_names = names


def people_admin(base: type[admin.ModelAdmin], *actions: Any) -> type[admin.ModelAdmin]:
    """`base` (whatever admin the User model has) with the officer's search, column and
    actions added."""

    class PeopleAdmin(base):  # type: ignore[valid-type,misc]
        search_fields = (*base.search_fields, "external_identities__external_id")
        search_help_text = ("Username, e-mail or name, or an id an app knows the person by "
                            "(the `user` it sends).")
        list_display = (*base.list_display, "known_to_apps_as")

        def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
            return super().get_queryset(request).prefetch_related("external_identities")

        def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
            return PeopleChangeList

        @admin.display(description="known to apps as")
        def known_to_apps_as(self, user: Any) -> str:
            names = getattr(user, "dihya_client_names", None)
            return known_as(user, names if names is not None else client_names([user])) or "—"

    PeopleAdmin.actions = [*(base.actions or []), *actions, withdraw_consent]
    PeopleAdmin.__name__ = PeopleAdmin.__qualname__ = f"People{base.__name__}"
    return PeopleAdmin
