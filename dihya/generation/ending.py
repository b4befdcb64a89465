"""How a run ended, as the one writer (`dihya.generation.settle`) takes it.

These only set the end on the generation row in memory and return an `Ended`; they write
nothing. Who writes it, and when, is the caller's choice: at once (`settle.now`, the worker, the
reaper, the console) or in the next batch (`recorder.submit`, the API's calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from dihya.gateway.models import Generation
from dihya.generation import records
from dihya.generation.settle import Ended
from fallbacks.runner import EmbedResult, RunFailed, RunResult

if TYPE_CHECKING:
    from dihya.generation.admission import Admission
    from fallbacks.runner import AttemptRecord
    from fallbacks.spec import Usage

#: How `execute` went: an answer (chat or embeddings), or no engine answered.
Outcome = RunResult | EmbedResult | RunFailed


def succeeded(admission: Admission, attempts: list[AttemptRecord], text: str,
              finish_reason: str, usage: Usage, engine_id: int, engine_name: str,
              tool_calls: list[dict[str, str]] | None = None) -> Ended:
    g = admission.generation
    g.status = Generation.Status.SUCCEEDED
    g.result = text
    g.tool_calls = tool_calls or []
    g.finish_reason = finish_reason[:32]  # the column; an engine may say anything
    g.prompt_tokens = usage.prompt_tokens
    g.completion_tokens = usage.completion_tokens
    g.engine_id = engine_id
    g.engine_name = engine_name
    g.finished = timezone.now()
    admission.attempts = attempts  # the answer's headers and the listeners account for them
    return Ended(admission, attempts, usage)


@dataclass(frozen=True, slots=True)
class Served:
    """What a call that failed after its answer began had served, and by which engine."""

    usage: Usage
    engine_id: int
    engine_name: str


def failed(admission: Admission, attempts: list[AttemptRecord], code: str,
           message: str, *, served: Served | None = None) -> Ended:
    """`served`: a stream that failed after its answer began (the client went away, the engine
    died) relayed that much; the gates are handed its usage, so the quota charges the request
    and those tokens instead of releasing it. Only a call that sent nothing is released."""
    g = admission.generation
    g.status = Generation.Status.FAILED
    g.error_code = code
    g.error_message = message[:2000]
    g.finished = timezone.now()
    admission.attempts = attempts
    if served is None:
        return Ended(admission, attempts, None)
    g.prompt_tokens = served.usage.prompt_tokens
    g.completion_tokens = served.usage.completion_tokens
    g.engine_id = served.engine_id
    g.engine_name = served.engine_name
    return Ended(admission, attempts, served.usage)


def end_of(admission: Admission, outcome: Outcome) -> Ended:
    """The end of a run that `execute` returned: its answer, or why no engine answered."""
    if isinstance(outcome, RunFailed):
        return failed(admission, outcome.attempts, outcome.code, str(outcome))
    if isinstance(outcome, EmbedResult):
        e = outcome.embeddings
        return succeeded(admission, outcome.attempts, records.vectors_summary(e), "", e.usage,
                         outcome.engine.id, outcome.engine.name)
    c = outcome.completion
    return succeeded(admission, outcome.attempts, c.text, c.finish_reason, c.usage,
                     outcome.engine.id, outcome.engine.name,
                     tool_calls=records.calls_record(c.tool_calls))
