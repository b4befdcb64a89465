"""What is particular to embeddings on the one path: the request a body makes, and the vector
length a route learns from its first answer.

Everything else — key, scope, route allow-list, consent, quota, audit, fallback, recording —
is the pipeline's, the same verbs as chat completions (`dihya.generation.pipeline`). Vectors
never reach the database: the generation row says how many and how long
(`records.vectors_summary`). This module never calls an engine.
"""

from __future__ import annotations

from dihya.generation import capabilities, records
from dihya.generation.admission import Admission
from dihya.generation.requests import EmbeddingBody
from fallbacks import catalog
from fallbacks.spec import EmbeddingRequest, Embeddings, RouteSpec


def request_of(body: EmbeddingBody, route: RouteSpec) -> EmbeddingRequest:
    """The request, once the route is known to embed: one of its engines at least must declare
    `embeddings` (a 400 `unsupported_parameter` naming `model` otherwise, not a 503)."""
    request = records.embedding_request_of(body)
    capabilities.servable(request, route)
    return request


def learn_dimension(admission: Admission, embeddings: Embeddings) -> None:
    """A route with no dimension pinned takes its first answer's: from then on an engine that
    answers vectors of another length is a failed attempt (fallbacks.runner.Runner.embed), so
    one index never mixes two lengths. Not from a call that asked its own `dimensions`: that
    length is the client's choice, not the route's."""
    route, request = admission.route, admission.request
    if (not route.id or route.embedding_dimension is not None
            or not isinstance(request, EmbeddingRequest) or request.dimensions is not None
            or not embeddings.dimension):
        return
    catalog.pin_embedding_dimension(route.id, embeddings.dimension)
