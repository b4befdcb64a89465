"""Files, batches and their lines: OpenAI's objects, kept per client in our own rows.

An input file keeps its JSONL as text (files are capped by DIHYA_FILE_MAX_BYTES). An output
or error file keeps no copy: its content is written from the batch's lines when it is read,
so that erasing a person blanks their lines everywhere at once. A line is the truth about
one request of a batch: django-q2's tasks carry only its id.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from dihya.gateway.models import ApiClient, ApiKey


def new_file_id() -> str:
    return f"file-{uuid.uuid4().hex}"


def new_batch_id() -> str:
    return f"batch_{uuid.uuid4().hex}"


class BatchFile(models.Model):
    class Purpose(models.TextChoices):
        BATCH = "batch"
        BATCH_OUTPUT = "batch_output"

    class Holds(models.TextChoices):
        INPUT = "input"
        OUTPUT = "output"
        ERRORS = "errors"

    id = models.CharField(primary_key=True, max_length=64, editable=False,
                          default=new_file_id)
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="batch_files")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    holds = models.CharField(max_length=8, choices=Holds.choices, default=Holds.INPUT)
    filename = models.CharField(max_length=255)
    bytes = models.PositiveBigIntegerField(default=0)
    lines = models.PositiveIntegerField(default=0)
    content = models.TextField(blank=True, help_text="The JSONL of an input file.")
    batch = models.ForeignKey("Batch", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="made_files",
                              help_text="The batch an output or error file is of.")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "batch file"

    def __str__(self) -> str:
        return f"{self.id} ({self.filename})"


class Batch(models.Model):
    class Status(models.TextChoices):
        VALIDATING = "validating"
        IN_PROGRESS = "in_progress"
        FINALIZING = "finalizing"
        COMPLETED = "completed"
        FAILED = "failed"
        EXPIRED = "expired"
        CANCELLING = "cancelling"
        CANCELLED = "cancelled"

    OPEN = (Status.VALIDATING, Status.IN_PROGRESS, Status.CANCELLING)
    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.EXPIRED, Status.CANCELLED)

    id = models.CharField(primary_key=True, max_length=64, editable=False,
                          default=new_batch_id)
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="batches")
    key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="batches",
                            help_text="The key that created it: its lines run with its grant.")
    endpoint = models.CharField(max_length=32)
    input_file = models.ForeignKey(BatchFile, null=True, on_delete=models.SET_NULL,
                                   related_name="batches")
    completion_window = models.CharField(max_length=8, default="24h")
    metadata = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.VALIDATING)
    errors = models.JSONField(null=True, blank=True, help_text="Why validation failed.")
    total = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    output_file = models.ForeignKey(BatchFile, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    error_file = models.ForeignKey(BatchFile, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    in_progress_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    finalizing_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    cancelling_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"
        indexes = [models.Index(fields=["status", "created_at"]),
                   models.Index(fields=["client", "created_at"])]

    def __str__(self) -> str:
        return self.id


class BatchLine(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for the scheduler to hand it to the workers
        QUEUED = "queued"  # handed to django-q2; a worker will claim it
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    OPEN = (Status.PENDING, Status.QUEUED, Status.RUNNING)
    NOT_STARTED = (Status.PENDING, Status.QUEUED)
    ENDED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.EXPIRED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="lines")
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+",
                               help_text="The batch's client (the scheduler's fair share).")
    position = models.PositiveIntegerField(help_text="Its line number in the input file.")
    custom_id = models.CharField(max_length=512)
    body = models.JSONField(default=dict, help_text="The request (blanked when erased).")
    end_user = models.CharField(max_length=256, blank=True, db_index=True,
                                help_text="The `user` the line names.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    deliveries = models.PositiveSmallIntegerField(default=0)
    generation_id = models.UUIDField(null=True, blank=True, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True,
                                help_text="The answer's body, or the error object.")
    erased = models.BooleanField(default=False)
    queued_at = models.DateTimeField(null=True, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "position"]
        constraints = [models.UniqueConstraint(fields=["batch", "custom_id"],
                                               name="batch_line_custom_id_unique")]
        indexes = [models.Index(fields=["status", "client"]),
                   models.Index(fields=["batch", "status", "position"])]

    def __str__(self) -> str:
        return f"{self.batch_id} #{self.position} {self.custom_id}"
