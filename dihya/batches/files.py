"""Batch input files: checked line by line when uploaded, kept per client, read back as
OpenAI's file objects; output and error files written from a batch's lines when read.

A client sees only its own files: another client's id is the same 404 as an unknown one.
Every error about an upload names its line (`line 3: …`) and the field (`param`).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from dihya.batches.models import Batch, BatchFile, BatchLine
from dihya.gateway.models import ApiClient
from dihya.generation.errors import Refusal

#: The endpoints a batch line may name, as OpenAI's batch input spells them.
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses")


def invalid(message: str, param: str | None = "file", code: str = "invalid_file") -> Refusal:
    return Refusal(400, code, message, param=param)


def not_found(file_id: str) -> Refusal:
    return Refusal(404, "file_not_found", f"No such File object: {file_id}", param="id")


def checked_lines(raw: bytes) -> list[dict[str, Any]]:
    """The requests of a batch input file, or a Refusal naming the first bad line."""
    if len(raw) > settings.DIHYA_FILE_MAX_BYTES:
        raise Refusal(413, "file_too_large", f"The file is larger than "
                      f"{settings.DIHYA_FILE_MAX_BYTES} bytes.", param="file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("The file is not UTF-8 text (JSONL).") from None
    requests: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(requests) >= settings.DIHYA_BATCH_MAX_LINES:
            raise invalid(f"The file has more than {settings.DIHYA_BATCH_MAX_LINES} requests.",
                          code="too_many_lines")
        requests.append(checked_line(line, number, seen))
    if not requests:
        raise invalid("The file has no request.", code="empty_file")
    return requests


def checked_line(line: str, number: int, seen: set[str]) -> dict[str, Any]:
    where = f"line {number}"
    try:
        request = json.loads(line)
    except ValueError:
        raise invalid(f"{where}: not valid JSON.") from None
    if not isinstance(request, dict):
        raise invalid(f"{where}: a request must be a JSON object.")
    custom_id = request.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or len(custom_id) > 512:
        raise invalid(f"{where}: custom_id must be a non-empty string (at most 512 "
                      "characters).", param="custom_id")
    if custom_id in seen:
        raise invalid(f"{where}: custom_id {custom_id!r} is used twice; each must be unique.",
                      param="custom_id", code="duplicate_custom_id")
    seen.add(custom_id)
    if request.get("method") != "POST":
        raise invalid(f"{where}: method must be \"POST\".", param="method")
    if request.get("url") not in ENDPOINTS:
        raise invalid(f"{where}: url must be one of {', '.join(ENDPOINTS)}.", param="url")
    if not isinstance(request.get("body"), dict):
        raise invalid(f"{where}: body must be a JSON object.", param="body")
    unknown = set(request) - {"custom_id", "method", "url", "body"}
    if unknown:
        raise invalid(f"{where}: unknown field {sorted(unknown)[0]!r}.", param=sorted(unknown)[0])
    return request


def upload(client: ApiClient, filename: str, purpose: str, raw: bytes) -> BatchFile:
    if purpose != "batch":
        raise invalid(f"purpose {purpose!r} is not supported: only \"batch\".", param="purpose",
                      code="invalid_request")
    requests = checked_lines(raw)
    return BatchFile.objects.create(client=client, purpose=BatchFile.Purpose.BATCH,
                                    filename=filename[:255] or "batch.jsonl", bytes=len(raw),
                                    lines=len(requests), content=raw.decode("utf-8"))


def owned(client: ApiClient) -> QuerySet[BatchFile]:
    return BatchFile.objects.filter(client=client)


def find(client: ApiClient, file_id: str) -> BatchFile:
    found = owned(client).filter(pk=file_id).first()
    if found is None:
        raise not_found(file_id)
    return found


def file_object(f: BatchFile) -> dict[str, Any]:
    return {"id": f.id, "object": "file", "bytes": f.bytes,
            "created_at": int(f.created.timestamp()), "expires_at": None,
            "filename": f.filename, "purpose": f.purpose, "status": "processed",
            "status_details": None}


def content(f: BatchFile) -> str:
    """An input file as uploaded (its erased lines blanked); an output or error file written
    from its batch's lines, in input order."""
    if f.holds == BatchFile.Holds.INPUT:
        return f.content
    lines = BatchLine.objects.filter(batch_id=f.batch_id).order_by("position")
    if f.holds == BatchFile.Holds.OUTPUT:
        lines = lines.filter(status=BatchLine.Status.SUCCEEDED)
    else:
        lines = lines.exclude(status=BatchLine.Status.SUCCEEDED)
    return "".join(json.dumps(output_line(line)) + "\n" for line in lines.iterator())


#: What a line that never ran says in the error file, as OpenAI's batches do.
NOT_RUN = {BatchLine.Status.EXPIRED: ("batch_expired", "This request could not be executed "
                                      "before the completion window expired."),
           BatchLine.Status.CANCELLED: ("batch_cancelled", "This request was not executed "
                                        "because the batch was cancelled.")}


def output_line(line: BatchLine) -> dict[str, Any]:
    """One line of an output or error file, in OpenAI's format, keyed by custom_id."""
    if line.status in NOT_RUN:
        code, message = NOT_RUN[line.status]  # type: ignore[index]
        return {"id": f"batch_req_{line.pk.hex}", "custom_id": line.custom_id,
                "response": None, "error": {"code": code, "message": message}}
    request_id = f"req_{line.generation_id.hex}" if line.generation_id else f"req_{line.pk.hex}"
    return {"id": f"batch_req_{line.pk.hex}", "custom_id": line.custom_id,
            "response": {"status_code": line.status_code, "request_id": request_id,
                         "body": line.response},
            "error": None}


def made_file(batch: Batch, holds: str, count: int) -> BatchFile | None:
    """The output or error file of a finished batch (None when it would be empty)."""
    if not count:
        return None
    f = BatchFile.objects.create(client_id=batch.client_id, purpose=BatchFile.Purpose.BATCH_OUTPUT,
                                 holds=holds, batch=batch,
                                 filename=f"{batch.id}_{holds}.jsonl", lines=count)
    f.bytes = len(content(f).encode())
    f.save(update_fields=["bytes"])
    return f
