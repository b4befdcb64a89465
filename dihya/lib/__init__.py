"""Helpers several apps need and that need no app: pseudonyms, outbound HTTP, the event loop.

Like healthchecks' `hc/lib`: modules here may read Django's settings, but import no app
(`fallbacks`, `quotas`, `audit`) and nothing else of `dihya` — import-linter checks it
(`make check`). The apps may import this package and nothing else of `dihya`.
"""
