"""Batches in the console: progress (lines done, failed, left, rate, estimated end) on the list
and on each batch's page, their files, cancel (a list action, and a button on the page).

Read-only records like generations: a batch is changed only by its verbs (`cancel` here as
an action, through `dihya.batches.lifecycle`). The list counts lines in one annotated query,
not one per row; a file's content downloads as the client would get it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from dihya.batches import files, lifecycle
from dihya.batches.models import Batch, BatchFile, BatchLine


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def lines_per_minute(b: Any) -> float:
    """Lines ended per minute since the batch began (until it ended)."""
    if b.in_progress_at is None:
        return 0.0
    until = b.finalizing_at or timezone.now()
    minutes = max((until - b.in_progress_at).total_seconds() / 60, 1 / 60)
    return float(b.lines_done + b.lines_failed) / minutes


def download_link(f: BatchFile | None) -> str:
    if f is None:
        return "—"
    url = reverse("admin:batches_batchfile_download", args=[f.pk])
    return format_html('<a href="{}">{}</a> ({} lines)', url, f.filename, f.lines)


@admin.register(Batch)
class BatchAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "client", "endpoint", "status", "done", "failed_lines", "left",
                    "rate", "estimated_end", "created_at", "expires_at")
    list_filter = ("status", "endpoint", "client")
    list_select_related = ("client",)
    search_fields = ("id",)
    actions = ("cancel",)
    readonly_fields = ("id", "client", "key", "endpoint", "status", "completion_window",
                       "metadata", "errors", "total", "completed", "failed", "done",
                       "failed_lines", "left", "rate", "estimated_end", "input",
                       "output", "error_output", "created_at", "in_progress_at", "expires_at",
                       "finalizing_at", "completed_at", "failed_at", "expired_at",
                       "cancelling_at", "cancelled_at")
    exclude = ("input_file", "output_file", "error_file")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        return super().get_queryset(request).select_related(
            "input_file", "output_file", "error_file").annotate(
            lines_done=Count("lines", filter=Q(lines__status=BatchLine.Status.SUCCEEDED)),
            lines_failed=Count("lines", filter=Q(lines__status=BatchLine.Status.FAILED)),
            lines_left=Count("lines", filter=Q(lines__status__in=BatchLine.OPEN)))

    @admin.display(description="done", ordering="lines_done")
    def done(self, obj: Any) -> int:
        return int(obj.lines_done)

    @admin.display(description="failed", ordering="lines_failed")
    def failed_lines(self, obj: Any) -> int:
        return int(obj.lines_failed)

    @admin.display(description="left", ordering="lines_left")
    def left(self, obj: Any) -> int:
        return int(obj.lines_left)

    @admin.display(description="lines / min")
    def rate(self, obj: Any) -> str:
        per_minute = lines_per_minute(obj)
        return f"{per_minute:.1f}" if per_minute else "—"

    @admin.display(description="estimated end")
    def estimated_end(self, obj: Any) -> str:
        per_minute = lines_per_minute(obj)
        if not obj.lines_left or not per_minute or obj.status in Batch.TERMINAL:
            return "—"
        end = timezone.now() + dt.timedelta(minutes=obj.lines_left / per_minute)
        return date_format(timezone.localtime(end), "DATETIME_FORMAT")

    @admin.display(description="input file")
    def input(self, obj: Batch) -> str:
        return download_link(obj.input_file)

    @admin.display(description="output file")
    def output(self, obj: Batch) -> str:
        return download_link(obj.output_file)

    @admin.display(description="error file")
    def error_output(self, obj: Batch) -> str:
        return download_link(obj.error_file)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("batches.change_batch"))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        cancellable = Batch.objects.filter(pk=object_id, status__in=(
            Batch.Status.VALIDATING, Batch.Status.IN_PROGRESS)).exists()
        return super().change_view(request, object_id, form_url, {
            **(extra_context or {}),
            "can_cancel": cancellable and self.has_cancel_permission(request)})

    def get_urls(self) -> list[Any]:
        return [path("<str:batch_id>/cancel/", self.admin_site.admin_view(self.cancel_one),
                     name="batches_batch_cancel"), *super().get_urls()]

    def cancel_one(self, request: HttpRequest, batch_id: str) -> HttpResponse:
        """The page's Cancel button (a POST): as the list's action, for this batch."""
        if request.method != "POST" or not self.has_cancel_permission(request):
            return HttpResponse(status=403 if request.method == "POST" else 405)
        batch = get_object_or_404(Batch, pk=batch_id)
        if batch.status in (Batch.Status.VALIDATING, Batch.Status.IN_PROGRESS):
            lifecycle.cancel(batch)
            self.message_user(request, "Batch cancelled: lines not started are stopped, "
                              "lines running finish.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:batches_batch_change", args=[batch_id]))

    @admin.action(description="Cancel the selected batches (lines running finish)",
                  permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        cancelled = 0
        for batch in queryset.filter(status__in=(Batch.Status.VALIDATING,
                                                 Batch.Status.IN_PROGRESS)):
            lifecycle.cancel(batch)
            cancelled += 1
        self.message_user(request, f"{cancelled} batch(es) cancelled.", messages.SUCCESS)


@admin.register(BatchFile)
class BatchFileAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "client", "filename", "holds", "lines", "bytes", "created",
                    "download")
    list_filter = ("purpose", "holds", "client")
    list_select_related = ("client",)
    exclude = ("content",)
    readonly_fields = ("id", "client", "purpose", "holds", "filename", "bytes", "lines",
                       "batch", "created", "download")

    @admin.display(description="content")
    def download(self, obj: BatchFile) -> str:
        return download_link(obj)

    def get_urls(self) -> list[Any]:
        return [path("<str:file_id>/download/", self.admin_site.admin_view(self.content),
                     name="batches_batchfile_download"), *super().get_urls()]

    def content(self, request: HttpRequest, file_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        f = get_object_or_404(BatchFile, pk=file_id)
        response = HttpResponse(files.content(f).encode(), content_type="application/jsonl")
        response["Content-Disposition"] = f'attachment; filename="{f.filename}"'
        return response
