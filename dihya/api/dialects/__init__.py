"""Dialects at the edge: each public wire format other than OpenAI's chat completions
translates its request into the one canonical `ChatBody`, and the pipeline's outcome, stream
and refusals back into its own wire format. Nothing behind the edge knows which dialect a call
came in (docs/api.md)."""
