"""Observability: Prometheus metrics, OpenTelemetry traces, JSON logs, the overhead header.

The pipeline tells this package about a generation through one gate
(`dihya.generation.gates.observability`: admitted, refused, recorded); the API lane's
`views.Overhead` middleware times each call; `views.metrics` serves GET /metrics. Nothing here
may change how a generation runs, nor put a person, a prompt or a key into a metric label, a
span or a log line (docs/observability.md).
"""
