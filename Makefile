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
export PULUMI_BACKEND_URL := file://$(CURDIR)/.pulumi-state

.PHONY: help venv tools test render up destroy bench clean

help:
	@echo "make up       build the platform on a local Kind cluster (stack STACK=$(STACK))"
	@echo "make test     install what the tests need and run them"
	@echo "make render   offline render of STACK into build/render/STACK"
	@echo "make destroy  pulumi destroy for STACK"
	@echo "make bench    print the benchmark figures"

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

up: venv
	@scripts/preflight.sh $(STACK)
	mkdir -p .pulumi-state
	pulumi login "$$PULUMI_BACKEND_URL"
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK)

destroy: venv
	@scripts/preflight.sh $(STACK)
	mkdir -p .pulumi-state
	pulumi login "$$PULUMI_BACKEND_URL"
	pulumi destroy --stack $(STACK)

bench: venv tools
	$(PY) bench/run.py

clean:
	rm -rf build .pytest_cache
