"""Section "masking": what lawful egress costs, per call and per streamed chunk.

Per call: masking a typical request (a system prompt and a French user message with a name,
an e-mail, an IBAN and a phone number) with Presidio and spaCy's `fr_core_news_sm`, as the
runner does before a masking engine is called (detection on a thread excluded: measured
on the caller's thread), and restoring its answer. Per chunk: `DeltaRestorer` on a streamed
answer cut into 4-character chunks with placeholders split across them. The analyzer's
one-off load per process is given apart. `python -m bench.masking` prints the figures alone.
"""

from __future__ import annotations

import asyncio
import os
import time
import timeit
from typing import Any

CALLS = 50
CHUNKS = 20_000
PROMPT = ("Bonjour, je m'appelle Marie Dupont. Écrivez-moi à marie.dupont@example.fr, virez sur "
          "FR76 3000 6000 0112 3456 7890 189 ou appelez le 06 12 34 56 78. Merci d'avance !")


def measure(calls: int = CALLS, chunks: int = CHUNKS) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dihya.settings")
    import django

    django.setup()
    from dihya.generation import detection, egress
    from fallbacks import masking
    from fallbacks.spec import ChatRequest, Completion, Delta, Message, Usage

    started = time.perf_counter()
    detection.load()
    load_s = time.perf_counter() - started
    request = ChatRequest(messages=(Message("system", "Tu es un assistant RH serviable."),
                                    Message("user", PROMPT)), max_tokens=256)
    setup = egress.masking()
    answer = Completion("Bien reçu <PERSON_1>, je vous écris à <EMAIL_ADDRESS_1>.", "stop",
                        Usage(), "e")

    def one_call() -> None:
        vault = masking.Vault()
        asyncio.run(masking.mask(request, setup, vault))
        masking.restore(answer, vault, request)

    one_call()  # spaCy's first call warms its pipes
    per_call = min(timeit.repeat(one_call, number=calls, repeat=3)) / calls
    vault = masking.Vault()
    asyncio.run(masking.mask(request, setup, vault))
    text = "Bien reçu <PERSON_1>, au <PHONE_NUMBER_1>, ou <EMAIL_ADDRESS_1>. " * 4
    pieces = [Delta(text=text[i:i + 4]) for i in range(0, len(text), 4)]

    def stream() -> None:
        restorer = masking.DeltaRestorer(vault, request)
        for piece in pieces:
            restorer.delta(piece)

    runs = max(1, chunks // len(pieces))
    per_chunk = min(timeit.repeat(stream, number=runs, repeat=3)) / (runs * len(pieces))
    return {"load_s": round(load_s, 2), "calls": calls, "ms_per_call": round(per_call * 1e3, 2),
            "chunks": runs * len(pieces), "us_per_chunk": round(per_chunk * 1e6, 2),
            "prompt_chars": request.prompt_chars}


async def masking_cost(b: Any) -> dict[str, Any]:
    return await asyncio.to_thread(measure, max(5, int(CALLS * b.scale)),
                                   max(1000, int(CHUNKS * b.scale)))


if __name__ == "__main__":
    print(measure())
