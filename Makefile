# platform-ops: the two set-up commands are `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
TOOLS := $(CURDIR)/.tools/bin
STACK ?= dev

# Tool pins. Each comes from its Go module on the Go module proxy.
# Helm 4.2: the Helm line that Argo CD 3.5 bundles for rendering charts.
HELM_VERSION := v4.2.4
# Prometheus 3.13 LTS; the Go module tags v3.13.x as v0.313.x.
PROMETHEUS_VERSION := v3.13.5
PROMETHEUS_MODULE_VERSION := v0.313.5
ACTIONLINT_VERSION := v1.7.12

TOOL_STAMPS := $(TOOLS)/.helm-$(HELM_VERSION) \
               $(TOOLS)/.prometheus-$(PROMETHEUS_VERSION) \
               $(TOOLS)/.actionlint-$(ACTIONLINT_VERSION)

export PATH := $(TOOLS):$(VENV)/bin:$(PATH)
export PLATFORM_OPS_TOOLS := $(TOOLS)
# Pulumi's backend for up and destroy: the user's PULUMI_BACKEND_URL when set, otherwise a file
# backend inside the repository. Pulumi gets it in its environment, never through `pulumi login`,
# which would change the current backend of every other project of the user.
PULUMI_STATE_DIR := $(CURDIR)/.pulumi-state
PULUMI_BACKEND := $(or $(PULUMI_BACKEND_URL),file://$(PULUMI_STATE_DIR))
# Pulumi asks before it changes anything, except where nobody can answer: CI, or no terminal on stdin.
PULUMI_YES = $(if $(filter-out false 0,$(CI)),--yes,$(shell [ -t 0 ] || echo --yes))

.PHONY: help venv tools test render up destroy bench clean

help:
	@printf '%-41s%s\n' \
	  'make help' 'this list' \
	  'make venv' 'create .venv from the pinned requirements.txt' \
	  'make tools' 'build the pinned tools into .tools/bin' \
	  'make test' 'install what the tests need and run them' \
	  'make render STACK=dev' 'offline render of STACK into build/render/STACK' \
	  'make diff-stacks STACK=dev STACK2=prod' 'what differs between two stacks' \
	  'make up STACK=dev' 'build the platform for STACK (dev: a local Kind cluster)' \
	  'make destroy STACK=dev' 'pulumi destroy for STACK' \
	  'make bench' 'print the benchmark figures' \
	  'make clean' 'remove build/ and .pytest_cache'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(VENV)/.installed

$(TOOLS)/.helm-$(HELM_VERSION):
	mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
	touch $@

# Prometheus's go.mod has a replace directive, which `go install pkg@version`
# refuses: build from the downloaded module as the main module instead.
PROMETHEUS_SRC = $(shell go env GOMODCACHE)/github.com/prometheus/prometheus@$(PROMETHEUS_MODULE_VERSION)
$(TOOLS)/.prometheus-$(PROMETHEUS_VERSION):
	mkdir -p $(TOOLS)
	go mod download github.com/prometheus/prometheus@$(PROMETHEUS_MODULE_VERSION)
	cd $(PROMETHEUS_SRC) && GOWORK=off GOFLAGS=-mod=readonly go build -trimpath \
	  -ldflags "-X github.com/prometheus/common/version.Version=$(PROMETHEUS_VERSION:v%=%)" \
	  -o $(TOOLS)/ ./cmd/prometheus ./cmd/promtool
	touch $@

$(TOOLS)/.actionlint-$(ACTIONLINT_VERSION):
	mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	touch $@

tools: $(TOOL_STAMPS)

test: venv tools
	$(PY) -m pytest

render: venv $(TOOLS)/.helm-$(HELM_VERSION)
	$(PY) scripts/render.py $(STACK)

# up and destroy check before they install anything: the tools, then .venv, then the stack's
# cluster access (destroy too: `pulumi destroy` does not run the program, which checks it).
# The sub-make gets PYTHON as chosen here: on its PATH, .venv/bin comes first.
up destroy: export PULUMI_BACKEND_URL := $(PULUMI_BACKEND)

up:
	@scripts/preflight.sh up $(STACK)
	@$(MAKE) --no-print-directory venv PYTHON="$(PYTHON)"
	@$(PY) scripts/check_cluster_access.py $(STACK)
	$(if $(filter file://$(PULUMI_STATE_DIR),$(PULUMI_BACKEND)),mkdir -p $(PULUMI_STATE_DIR))
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK) $(PULUMI_YES)

destroy:
	@scripts/preflight.sh destroy $(STACK)
	@$(MAKE) --no-print-directory venv PYTHON="$(PYTHON)"
	@$(PY) scripts/check_cluster_access.py $(STACK)
	$(if $(filter file://$(PULUMI_STATE_DIR),$(PULUMI_BACKEND)),mkdir -p $(PULUMI_STATE_DIR))
	pulumi destroy --stack $(STACK) $(PULUMI_YES)

bench: venv tools
	$(PY) bench/run.py

clean:
	rm -rf build .pytest_cache
