"""OpenAI's Files API, for batch input files: POST/GET /v1/files, GET/DELETE /v1/files/{id},
GET /v1/files/{id}/content.

Thin: the key's `jobs` scope (files and batches are queued work), then `dihya.batches.files`.
A client sees only its own files; another's id is the same 404 as an unknown one.
"""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from pydantic import Field

from dihya.api.auth import BearerKey, caller
from dihya.api.schemas import ERRORS
from dihya.batches import files
from dihya.gateway.models import ApiClient, Generation
from dihya.generation import hops

router = Router(tags=["Files and batches"], auth=BearerKey())


def client_of(token: str) -> ApiClient:
    who = caller(token, Generation.Source.JOB)
    assert who.client is not None  # every key belongs to a client
    return who.client


def stored(token: str, file: UploadedFile, purpose: str) -> dict[str, Any]:
    """On the hop's thread: the upload is read there (it may be a temporary file on disk)."""
    client = client_of(token)
    raw = file.read(settings.DIHYA_FILE_MAX_BYTES + 1)  # one byte over is enough to refuse
    return files.file_object(files.upload(client, file.name or "", purpose, raw))


@router.post("/files", response={200: dict[str, Any], **ERRORS},
             summary="Upload a batch input file (JSONL)", operation_id="create_file")
async def upload(request: HttpRequest, file: File[UploadedFile],
                 purpose: Form[str]) -> HttpResponse:
    """`purpose` must be `batch`. Each line is `{custom_id, method: "POST", url, body}`, with
    `url` one of /v1/chat/completions, /v1/embeddings, /v1/responses; the first bad line is
    refused by number. At most DIHYA_FILE_MAX_BYTES bytes and DIHYA_BATCH_MAX_LINES lines."""
    body = await hops.db(stored)(request.auth, file, purpose)  # type: ignore[attr-defined]
    return JsonResponse(body)


class FileList(Schema):
    purpose: str | None = None
    limit: int = Field(10_000, ge=1, le=10_000)
    after: str | None = None
    order: Literal["asc", "desc"] = "desc"


def listed(token: str, q: FileList) -> dict[str, Any]:
    mine = files.owned(client_of(token))
    if q.purpose:
        mine = mine.filter(purpose=q.purpose)
    mine = mine.order_by("created" if q.order == "asc" else "-created")
    if q.after and (anchor := mine.filter(pk=q.after).first()):
        mine = mine.filter(**{"created__gt" if q.order == "asc" else "created__lt":
                              anchor.created})
    page = [files.file_object(f) for f in mine[:q.limit + 1]]
    return {"object": "list", "data": page[:q.limit], "has_more": len(page) > q.limit,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[:q.limit][-1]["id"] if page else None}


@router.get("/files", response={200: dict[str, Any], **ERRORS}, summary="List files",
            operation_id="list_files")
async def list_files(request: HttpRequest, q: Query[FileList]) -> HttpResponse:
    return JsonResponse(await hops.db(listed)(request.auth, q))  # type: ignore[attr-defined]


def one(token: str, file_id: str) -> dict[str, Any]:
    return files.file_object(files.find(client_of(token), file_id))


@router.get("/files/{file_id}", response={200: dict[str, Any], **ERRORS},
            summary="Retrieve a file", operation_id="retrieve_file")
async def retrieve(request: HttpRequest, file_id: str) -> HttpResponse:
    return JsonResponse(await hops.db(one)(request.auth, file_id))  # type: ignore[attr-defined]


def content_of(token: str, file_id: str) -> str:
    return files.content(files.find(client_of(token), file_id))


@router.get("/files/{file_id}/content", response={200: str, **ERRORS},
            summary="A file's content", operation_id="retrieve_file_content")
async def content(request: HttpRequest, file_id: str) -> HttpResponse:
    text = await hops.db(content_of)(request.auth, file_id)  # type: ignore[attr-defined]
    return HttpResponse(text.encode(), content_type="application/jsonl")


def deleted(token: str, file_id: str) -> None:
    files.find(client_of(token), file_id).delete()


@router.delete("/files/{file_id}", response={200: dict[str, Any], **ERRORS},
               summary="Delete a file", operation_id="delete_file")
async def delete(request: HttpRequest, file_id: str) -> HttpResponse:
    await hops.db(deleted)(request.auth, file_id)  # type: ignore[attr-defined]
    return JsonResponse({"id": file_id, "object": "file", "deleted": True})
