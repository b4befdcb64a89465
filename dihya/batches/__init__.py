"""OpenAI's Files and Batch APIs, run by Dihya's own workers for engines that have none.

A batch is a file of requests; each request is a `BatchLine` row that a worker claims, runs
through the one pipeline (`dihya.generation.pipeline`) and ends exactly once. This package
knows the rows and their life cycle; running a line (which speaks the wire dialects) is
`dihya.api.batch_lines`.
"""
