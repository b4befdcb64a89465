"""Ready-to-paste settings for a new API key: curl, the OpenAI SDK, Codex CLI, Claude Code.

Shown once, with the key, on the page that creates it (the key is not kept in clear anywhere
else). The base URL is the one the admin reached the console at: the API shares the host.
Wire details, as each tool documents them:
- OpenAI SDK: `base_url` ends in /v1; the key is a bearer token.
- Codex CLI: a `[model_providers.<id>]` table in ~/.codex/config.toml with `base_url`,
  `env_key` (the variable holding the key) and `wire_api = "responses"` (Dihya serves
  /v1/responses); `model_provider` selects it.
- Claude Code: ANTHROPIC_BASE_URL is the host without /v1 (it appends /v1/messages itself),
  ANTHROPIC_API_KEY travels as `x-api-key`, which Dihya accepts (dihya.api.auth).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snippet:
    slug: str
    title: str
    where: str
    text: str


def for_key(raw: str, origin: str, model: str) -> list[Snippet]:
    """`origin` is scheme://host[:port] of the request; `model` a route the client may use."""
    api = f"{origin}/v1"
    return [
        Snippet("curl", "curl", "a shell", (
            f"curl {api}/chat/completions \\\n"
            f'  -H "Authorization: Bearer {raw}" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f'  -d \'{{"model": "{model}", '
            '"messages": [{"role": "user", "content": "Hello"}]}\'')),
        Snippet("openai", "OpenAI SDK (Python)", "your application", (
            "from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{api}", api_key="{raw}")\n'
            f'reply = client.chat.completions.create(model="{model}", messages=[\n'
            '    {"role": "user", "content": "Hello"}])\n'
            "print(reply.choices[0].message.content)")),
        Snippet("codex", "Codex CLI", "~/.codex/config.toml, then export DIHYA_API_KEY", (
            f'model = "{model}"\n'
            'model_provider = "dihya"\n\n'
            "[model_providers.dihya]\n"
            'name = "Dihya"\n'
            f'base_url = "{api}"\n'
            'env_key = "DIHYA_API_KEY"\n'
            'wire_api = "responses"\n\n'
            f"# and in your shell: export DIHYA_API_KEY={raw}")),
        Snippet("claude", "Claude Code", "the shell that starts claude", (
            f"export ANTHROPIC_BASE_URL={origin}\n"
            f"export ANTHROPIC_API_KEY={raw}\n"
            f"export ANTHROPIC_MODEL={model}\n"
            f"export ANTHROPIC_DEFAULT_HAIKU_MODEL={model}  # its background calls\n"
            "claude")),
    ]
