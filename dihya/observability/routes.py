"""Requests named by their route template, wherever they are logged or traced.

A path can hold a bearer credential (`/privacy/link/<token>/`) or a person's id
(`/api/v1/people/<user>/export`), and a query string a person's id (`?user=`). Erasure cannot
reach a log line or a trace backend, so neither may ever get the path: they get
"/privacy/link/<str:token>/" instead. `RouteTemplates` is the logging filter that rewrites
Django's request log lines ("Not Found: …"), the dev server's and uvicorn's access lines.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest
from django.urls import Resolver404, resolve

UNMATCHED = "(unmatched)"


def route_of_path(path: str) -> str:
    """The route template a path resolves to, without its query string."""
    try:
        match = resolve(path.split("?", 1)[0])
    except Resolver404:
        return UNMATCHED
    return "/" + match.route if match.route else UNMATCHED


def route_of(request: HttpRequest) -> str:
    """The request's route template ("/privacy/link/<str:token>/"), never its path."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return route_of_path(request.path_info)
    return "/" + match.route


class RouteTemplates(logging.Filter):
    """Put the route template in place of the path in request log lines (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple):
            return True
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):  # django.request: "%s: %s" % (reason, path)
            paths = {request.path, request.path_info, request.get_full_path()}
            route = route_of(request)
            record.args = tuple(route if a in paths else a for a in args)
        elif record.name in ("uvicorn.access", "django.server"):
            record.args = tuple(route_of_path(a) if isinstance(a, str) and a.startswith("/")
                                else a for a in args)
        return True
