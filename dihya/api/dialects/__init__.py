"""The public wire formats Dihya speaks, one module each, at the edge of the house.

A dialect translates its wire request into the one canonical request the pipeline admits
(`dihya.generation.requests.ChatBody` / `EmbeddingBody`, which `pipeline.admit` turns into
`fallbacks.spec.ChatRequest` / `EmbeddingRequest`), and the canonical outcome and stream events
(`fallbacks.spec.Completion`, `Delta`, `Usage`, or a `Refusal`) back into its own wire format,
errors included. Nothing behind the edge knows which dialect a call came in: the pipeline,
the gates, the runner and the providers see one request and one answer.

- `openai_chat`: OpenAI chat completions (the chat.completion object and its SSE chunks).
- `openai_embeddings`: OpenAI embeddings (floats or base64).
- `responses`: OpenAI's Responses API (Codex CLI, the Agents SDK, Vercel's default model).
- `anthropic`: Anthropic's Messages API (Claude Code, the anthropic SDK).

A dialect never touches the database and never calls an engine: its view (`dihya.api.*`)
authenticates, admits, runs through `dihya.generation.pipeline`, and hands the result here.
The engine side has its own translations, one provider per wire protocol
(`fallbacks.providers`).
"""
