"""Serve SmolLM2 through llama.cpp (xllamacpp) as an OpenAI-compatible engine."""

from __future__ import annotations

import os
import signal
import sys
import threading

from django.core.management.base import BaseCommand, CommandError

from fallbacks import local_engine

# Seconds the llama.cpp server gets to stop cleanly once told to; then the process just exits.
STOP_GRACE = 2.0


class Command(BaseCommand):
    help = "Start a local llama.cpp engine (SmolLM2-135M) on 127.0.0.1, OpenAI-compatible."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8081)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--slots", type=int, default=4, help="Concurrent requests served.")
        parser.add_argument("--threads", type=int, default=2)
        parser.add_argument("--embeddings", action="store_true",
                            help="Serve /v1/embeddings (mean pooling) as "
                                 f"{local_engine.EMBEDDING_ALIAS}.")

    def handle(self, *args, port: int, host: str, slots: int, threads: int,
               embeddings: bool = False, **options):
        # Block SIGINT and SIGTERM before llama.cpp starts its threads, which inherit the mask:
        # a signal for the process then stays pending until this thread takes it below.
        # (Before, a Ctrl-C the kernel handed to one of llama.cpp's threads never woke a main
        # thread waiting on an Event without a timeout, and the engine outlived `make run`.)
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        caught = threading.Event()
        for sig in stop_signals:  # also un-ignores them (bash starts `&` children ignoring INT)
            signal.signal(sig, lambda *_: caught.set())
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        try:
            server = local_engine.start(port, host=host, slots=slots, threads=threads,
                                        embeddings=embeddings)
        except local_engine.LocalEngineUnavailable as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:  # xllamacpp raises plain errors, e.g. port in use
            raise CommandError(f"llama.cpp server did not start on {host}:{port}: {exc}") from exc
        alias = local_engine.EMBEDDING_ALIAS if embeddings else local_engine.MODEL_ALIAS
        self.stdout.write(f"local engine ({alias}) listening on "
                          f"{server.listening_address}/v1", ending="\n")
        self.stdout.flush()
        # A timeout, in case a thread of the library unblocked the signals: the handler above
        # then caught it, and it runs in this thread within the next half second.
        while not caught.is_set():
            if signal.sigtimedwait(stop_signals, 0.5) is not None:
                break
        self.stdout.write("local engine stopping", ending="\n")
        self.stdout.flush()
        # xllamacpp stops its HTTP server and joins its threads when the Server is freed; that
        # may wait for requests in flight. Free it on another thread and wait a bounded grace,
        # then leave with os._exit either way: the engine keeps no state to save, and a normal
        # interpreter exit could block again on the library's threads.
        holder = [server]
        del server
        release = threading.Thread(target=holder.clear, name="release-llama", daemon=True)
        release.start()
        release.join(STOP_GRACE)
        sys.stderr.flush()
        os._exit(0)
