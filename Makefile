# The one command surface. `make run` serves the API locally; `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON313 := $(shell tools/find-python313)
ifeq ($(PYTHON313),)
$(error python3.13 is required; see the message above)
endif
# sam build's python3.13 workflow looks for `python3.13` on PATH.
export PATH := $(dir $(PYTHON313)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
export UV_PYTHON := $(PYTHON313)
export UV_PROJECT_ENVIRONMENT := .venv

TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
SAM := $(TOOLS)/sam/bin/sam
VENV := .venv
BIN := $(VENV)/bin
HOST_ARCH := $(shell uname -m | sed -e 's/aarch64/arm64/')
LAYER_REQUIREMENTS := layers/shared/requirements.txt
EXPORT_LAYER := $(UV) export --frozen --no-dev --package secure-ai-gateway --no-emit-workspace --no-header --format requirements-txt

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# ----------------------------------------------------------------------------- environments
$(UV): tools/uv-requirements.txt
	$(PYTHON313) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet --require-hashes -r tools/uv-requirements.txt
	touch $@

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	touch $@

CHECKOV := $(TOOLS)/checkov/bin/checkov
$(CHECKOV): $(UV) tools/checkov-requirements.txt
	rm -rf $(TOOLS)/checkov
	$(UV) venv --quiet $(TOOLS)/checkov
	$(UV) pip install --quiet --python $(TOOLS)/checkov/bin/python --require-hashes -r tools/checkov-requirements.txt
	touch $@

$(SAM): $(UV) tools/sam-requirements.txt
	rm -rf $(TOOLS)/sam
	$(UV) venv --quiet $(TOOLS)/sam
	$(UV) pip install --quiet --python $(TOOLS)/sam/bin/python --require-hashes -r tools/sam-requirements.txt
	touch $@

MUTMUT := $(TOOLS)/mutmut/bin/mutmut
$(MUTMUT): $(UV) tools/mutmut-requirements.txt
	rm -rf $(TOOLS)/mutmut
	$(UV) venv --quiet $(TOOLS)/mutmut
	$(UV) pip install --quiet --python $(TOOLS)/mutmut/bin/python --require-hashes -r tools/mutmut-requirements.txt
	touch $@

.PHONY: install
install: $(VENV)/.synced $(SAM) $(CHECKOV) ## Create .venv (locked deps) and the sam/checkov tool environments

# ----------------------------------------------------------------------------- the local stack
.PHONY: run
run: $(VENV)/.synced ts-build ## Serve the API on 127.0.0.1 (moto, emulator, stub model) and the browser demo on :8787; Ctrl-C stops it
	$(BIN)/python -m secure_ai_local

.PHONY: events
events: $(VENV)/.synced ## With `make run` going: re-sign events/ (fresh signature + envelope) for sam local invoke -e
	$(BIN)/python -m secure_ai_local.sample_events

.PHONY: demo
demo: $(VENV)/.synced ## With `make run` going in another terminal: five steps that show what the gateway does
	$(BIN)/secure-ai demo --local

.PHONY: lock
lock: $(UV) ## Re-resolve uv.lock and regenerate the layer's requirements from it
	$(UV) lock
	$(EXPORT_LAYER) --quiet -o $(LAYER_REQUIREMENTS)

# ----------------------------------------------------------------------------- checks
.PHONY: openapi
openapi: $(VENV)/.synced ## Regenerate docs/openapi.yaml from the template and the models (CI checks it matches)
	$(BIN)/python -m secure_ai_local.openapi > docs/openapi.yaml

.PHONY: lock-check
lock-check: $(UV) ## uv.lock matches pyproject.toml; the layer's requirements match uv.lock
	$(UV) lock --check --quiet
	@$(EXPORT_LAYER) --quiet | diff -u $(LAYER_REQUIREMENTS) - >/dev/null \
		|| { echo "$(LAYER_REQUIREMENTS) drifted from uv.lock: run 'make lock'"; exit 1; }

.PHONY: lint
lint: $(VENV)/.synced ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: typecheck
typecheck: $(VENV)/.synced ## mypy --strict
	$(BIN)/mypy

.PHONY: pytest
pytest: $(VENV)/.synced ## Tests with branch coverage (fails under 85% overall or for any one package)
	$(BIN)/pytest --cov --cov-report=term $(PYTEST_ARGS)
	tools/coverage-per-package

.PHONY: cfn-lint
cfn-lint: $(VENV)/.synced ## cfn-lint on template.yaml
	$(BIN)/cfn-lint template.yaml

.PHONY: sam-validate
sam-validate: $(SAM) ## sam validate and sam validate --lint
	$(SAM) validate --template-file template.yaml
	$(SAM) validate --lint --template-file template.yaml

.PHONY: scan
scan: $(VENV)/.synced $(CHECKOV) ## bandit and checkov (offline): no finding that is not suppressed in place with a reason
	tools/security-scan bandit checkov

.PHONY: audit
audit: $(VENV)/.synced $(UV) ## pip-audit over uv.lock and tools/*-requirements.txt (needs PyPI's per-version JSON API)
	tools/security-scan pip-audit

.PHONY: build
build: $(SAM) ## sam build for arm64 (what deploys) into .aws-sam/build
	$(SAM) build --template-file template.yaml --build-dir .aws-sam/build --parameter-overrides Architecture=arm64

.PHONY: import-check
import-check: $(SAM) $(VENV)/.synced ## Build for this host's architecture; import each handler as Lambda would
	$(SAM) build --template-file template.yaml --build-dir .aws-sam/build-host --parameter-overrides Architecture=$(HOST_ARCH)
	$(BIN)/python tools/check_built_imports.py .aws-sam/build-host $(PYTHON313)

# `make mutate` runs every target of tools/mutate-targets.toml, one after the other; `make mutate
# TARGET=stream` one of them (MUTATE_ARGS: mutant names of that target, to rerun only those).
MUTATE_TARGETS = $(if $(filter command line,$(origin TARGET)),$(TARGET),$(shell $(PYTHON313) -c \
	'import tomllib; print(*tomllib.load(open("tools/mutate-targets.toml", "rb")))'))

.PHONY: mutate
mutate: $(VENV)/.synced $(MUTMUT) ## Mutation testing of tools/mutate-targets.toml (TARGET=name for one; slow; not part of make test)
	for target in $(MUTATE_TARGETS); do \
	  rm -rf .mutmut/$$target/mutants; \
	  MUTATE_TARGET=$$target tools/mutate run $(MUTATE_ARGS); \
	done

.PHONY: test
test: install lock-check lint typecheck ts-check browsers pytest cfn-lint sam-validate scan build import-check ## Everything CI runs
	@echo "make test: all checks passed"

.PHONY: clean
clean: ## Remove build output and environments
	rm -rf .aws-sam $(VENV) $(TOOLS) .mutmut .mypy_cache .ruff_cache .pytest_cache .coverage
	rm -rf $(TS_DIR)/node_modules $(TS_DIR)/dist

# --- the TypeScript client
TS_DIR := clients/typescript
TS_STAMP := $(TS_DIR)/node_modules/.installed-from-lock

$(TS_STAMP): $(TS_DIR)/package-lock.json $(TS_DIR)/package.json
	cd $(TS_DIR) && npm ci --no-audit --no-fund
	touch $@

.PHONY: ts-install
ts-install: $(TS_STAMP) ## Install the TypeScript client's locked dev dependencies (npm ci, only when the lock changed)

# The browser build the demo serves (make run) and tests/browser loads: rebuilt when a source changed.
TS_BUNDLE := $(TS_DIR)/dist/browser/secure-ai-client.min.js
$(TS_BUNDLE): $(TS_STAMP) $(wildcard $(TS_DIR)/src/*.ts $(TS_DIR)/src/*/*.ts $(TS_DIR)/test/*.ts) $(TS_DIR)/tsconfig.json
	cd $(TS_DIR) && npm run --silent build

.PHONY: ts-build
ts-build: $(TS_BUNDLE) ## Build the TypeScript client (dist/src for Node, dist/browser for the demo)

# Debian's Chromium and Firefox ESR for tests/browser (puppeteer-core drives them; nothing is downloaded).
BROWSER_BINARIES := /usr/bin/chromium /usr/bin/firefox-esr
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: browsers
browsers: ## Install chromium and firefox-esr from the OS packages when missing (root or sudo)
	@missing=""; for binary in $(BROWSER_BINARIES); do [ -x "$$binary" ] || missing="$$missing $$(basename $$binary)"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium firefox-esr; \
	fi

.PHONY: ts-check
ts-check: $(TS_STAMP) ## TypeScript client: typecheck, lint, tests (unit + vectors), bundle size budget (60 KB gz)
	cd $(TS_DIR) && npm run --silent typecheck && npm run --silent lint && npm run --silent test && npm run --silent build && npm run --silent size -- 60
