"""Queue a generation, wait for a worker to run it, print the text and the attempts.

`--body FILE` (or `-` for stdin) takes a whole chat completions body, the one the API and
the jobs API take (tools, response_format, content parts…); tool calls are printed as JSON.
`--embed` (or a body with `input` instead of `messages`) asks for embeddings instead: the
vectors are printed as JSON, one list per input.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError

from dihya.gateway.models import Generation
from dihya.generation import callbacks, jobs, pipeline
from dihya.generation.errors import Refusal
from dihya.generation.requests import ChatBody, EmbeddingBody


class Command(BaseCommand):
    help = "Run one generation through the workers, e.g. generate \"Say hello\" --route default"

    def add_arguments(self, parser):
        parser.add_argument("prompt", nargs="?", default="")
        parser.add_argument("--body", default="",
                            help="A JSON chat completions body (a file, or - for stdin).")
        parser.add_argument("--route", default="default")
        parser.add_argument("--user", default="", help="End user on whose behalf to ask.")
        parser.add_argument("--max-tokens", type=int, default=None)
        parser.add_argument("--wait", type=float, default=180.0,
                            help="Seconds to wait for a worker (0: queue and return).")
        parser.add_argument("--inline", action="store_true",
                            help="Run in this process instead of on a worker.")
        parser.add_argument("--embed", action="store_true",
                            help="Embed the prompt (an embeddings body) instead of answering it.")

    def handle(self, *args, prompt: str, body: str, route: str, user: str,
               max_tokens: int | None, wait: float, inline: bool, embed: bool, **options):
        if not prompt.strip() and not body:
            raise CommandError("the prompt is empty")
        try:
            if body:
                raw = sys.stdin.read() if body == "-" else Path(body).read_text()
                try:
                    data = json.loads(raw)
                except ValueError as exc:
                    raise CommandError(f"the body is not JSON: {exc}") from exc
                if not isinstance(data, dict):
                    raise CommandError("the body must be a JSON object")
                data.setdefault("model", route)
                chat: ChatBody | EmbeddingBody = (
                    EmbeddingBody.model_validate(data) if "input" in data
                    else ChatBody.model_validate(data))
            elif embed:
                chat = EmbeddingBody(model=route, input=prompt, user=user or None)
            else:
                chat = ChatBody(model=route, messages=[{"role": "user", "content": prompt}],
                                max_tokens=max_tokens, user=user or None)
            caller = pipeline.Caller(client=None, source=Generation.Source.COMMAND)
            admission = pipeline.admit(caller, chat, queued=True)
        except ValidationError as exc:
            raise CommandError(f"invalid request: {exc.errors()[0]['msg']}") from exc
        except Refusal as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        generation = admission.generation
        if inline:
            jobs.run(generation.pk)
        else:
            jobs.enqueue(generation)
        self.stderr.write(f"generation {generation.pk} queued on route {chat.model!r}")
        if not wait and not inline:
            return
        deadline = time.monotonic() + wait
        while True:
            generation.refresh_from_db()
            if generation.is_terminal:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"still {generation.status} after {wait:.0f}s: is a worker "
                                   "running (python manage.py qcluster)?")
            time.sleep(0.2)
        for a in generation.attempts.all():
            detail = f" — {a.detail}" if a.detail and a.outcome != "ok" else ""
            self.stderr.write(f"  #{a.position} {a.engine_name:<14} {a.outcome:<16} "
                              f"{a.latency_ms:8.1f} ms{detail}")
        if generation.status != Generation.Status.SUCCEEDED:
            raise CommandError(f"{generation.status}: {generation.error_code}: "
                               f"{generation.error_message}")
        self.stderr.write(f"served by {generation.engine_name} "
                          f"({generation.prompt_tokens}+{generation.completion_tokens} tokens)")
        if generation.kind == Generation.Kind.EMBEDDINGS:
            self.stdout.write(json.dumps(callbacks.vectors_of(generation)))
            return
        if generation.tool_calls:
            self.stdout.write(json.dumps({"tool_calls": generation.tool_calls}))
        self.stdout.write(generation.result)
