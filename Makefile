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
PROMETHEUS_VERSION := v3.13.4
PROMETHEUS_MODULE_VERSION := v0.313.4
ACTIONLINT_VERSION := v1.7.12

TOOL_STAMPS := $(TOOLS)/.helm-$(HELM_VERSION) \
               $(TOOLS)/.prometheus-$(PROMETHEUS_VERSION) \
               $(TOOLS)/.actionlint-$(ACTIONLINT_VERSION)

# The real-cluster tier: a Kubernetes control plane with fake nodes, the Pulumi engine and
# the upstream artifacts the program installs, each from its Go module (scripts/build-tool.sh).
# Kept apart from .tools/bin, which is on PATH: `make up` must use the user's own Pulumi.
TESTBED := $(CURDIR)/.tools/testbed
KUBERNETES_VERSION := v1.37.2
ETCD_VERSION := v3.7.3
KWOK_VERSION := v0.8.0
# The newest Pulumi CLI the module proxy serves (3.272 and 3.273 are refused).
PULUMI_VERSION := v3.274.1
# The Python language host is only served inside this old SDK module.
PULUMI_LANGUAGE_PYTHON_VERSION := v3.68.0
# The newest Kubernetes provider the proxy serves: a pseudo-version of v4.25.0.
PULUMI_KUBERNETES_VERSION := v4.25.0
PULUMI_KUBERNETES_MODULE_VERSION := v4.0.0-20260115033456-f47bc2d6f199
# Upstream artifacts as the stacks pin them; the tier installs them from these local mirrors.
ARGOCD_VERSION := v3.5.7
CERT_MANAGER_VERSION := v1.21.2

TESTBED_STAMPS := $(TESTBED)/.kubernetes-$(KUBERNETES_VERSION) \
                  $(TESTBED)/.etcd-$(ETCD_VERSION) \
                  $(TESTBED)/.kwok-$(KWOK_VERSION) \
                  $(TESTBED)/.pulumi-$(PULUMI_VERSION) \
                  $(TESTBED)/.pulumi-language-python-$(PULUMI_LANGUAGE_PYTHON_VERSION) \
                  $(TESTBED)/.pulumi-resource-kubernetes-$(PULUMI_KUBERNETES_VERSION) \
                  $(TESTBED)/.mirror-argocd-$(ARGOCD_VERSION) \
                  $(TESTBED)/.mirror-cert-manager-$(CERT_MANAGER_VERSION)

export PATH := $(TOOLS):$(VENV)/bin:$(PATH)
export PLATFORM_OPS_TOOLS := $(TOOLS)
export PLATFORM_OPS_TESTBED := $(TESTBED)
# Pulumi's backend for up and destroy: the user's PULUMI_BACKEND_URL when set, otherwise a file
# backend inside the repository. Pulumi gets it in its environment, never through `pulumi login`,
# which would change the current backend of every other project of the user.
PULUMI_STATE_DIR := $(CURDIR)/.pulumi-state
PULUMI_BACKEND := $(or $(PULUMI_BACKEND_URL),file://$(PULUMI_STATE_DIR))
# Pulumi asks before it changes anything, except where nobody can answer: CI, or no terminal on stdin.
PULUMI_YES = $(if $(filter-out false 0,$(CI)),--yes,$(shell [ -t 0 ] || echo --yes))

.PHONY: help venv tools testbed test test-offline test-cluster render diff-stacks preview-diff up destroy bench clean

help:
	@printf '%-41s%s\n' \
	  'make help' 'this list' \
	  'make venv' 'create .venv from the pinned requirements.txt' \
	  'make tools' 'build the pinned tools into .tools/bin' \
	  'make testbed' 'build the real-cluster tier'"'"'s control plane and Pulumi engine' \
	  'make test' 'install what the tests need and run every tier' \
	  'make test-offline' 'the unit and rendered tiers: no cluster' \
	  'make test-cluster' 'the real-cluster tier alone' \
	  'make render STACK=dev' 'offline render of STACK into build/render/STACK' \
	  'make diff-stacks STACK=dev STACK2=prod' 'what differs between two stacks' \
	  'make preview-diff STACK=dev BASE=main' 'what pulumi up would change from BASE (default: the merge base with main), on a throwaway cluster' \
	  'make up STACK=dev' 'build the platform for STACK (dev: a local Kind cluster)' \
	  'make destroy STACK=dev' 'pulumi destroy for STACK' \
	  'make bench' 'print the benchmark figures' \
	  'make clean' 'remove build/ and .pytest_cache'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
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

BUILD_TOOL = TOOLS=$(TESTBED) scripts/build-tool.sh

$(TESTBED)/.kubernetes-$(KUBERNETES_VERSION):
	$(BUILD_TOOL) kubernetes $(KUBERNETES_VERSION)
	touch $@

$(TESTBED)/.etcd-$(ETCD_VERSION):
	$(BUILD_TOOL) etcd $(ETCD_VERSION)
	touch $@

$(TESTBED)/.kwok-$(KWOK_VERSION):
	$(BUILD_TOOL) kwok $(KWOK_VERSION)
	touch $@

$(TESTBED)/.pulumi-$(PULUMI_VERSION):
	$(BUILD_TOOL) pulumi $(PULUMI_VERSION)
	touch $@

$(TESTBED)/.pulumi-language-python-$(PULUMI_LANGUAGE_PYTHON_VERSION):
	$(BUILD_TOOL) pulumi-language-python $(PULUMI_LANGUAGE_PYTHON_VERSION) $(PULUMI_VERSION)
	touch $@

$(TESTBED)/.pulumi-resource-kubernetes-$(PULUMI_KUBERNETES_VERSION):
	$(BUILD_TOOL) pulumi-resource-kubernetes $(PULUMI_KUBERNETES_VERSION) $(PULUMI_KUBERNETES_MODULE_VERSION)
	touch $@

$(TESTBED)/.mirror-argocd-$(ARGOCD_VERSION):
	$(BUILD_TOOL) mirror-argocd $(ARGOCD_VERSION)
	touch $@

$(TESTBED)/.mirror-cert-manager-$(CERT_MANAGER_VERSION):
	$(BUILD_TOOL) mirror-cert-manager $(CERT_MANAGER_VERSION)
	touch $@

testbed: $(TESTBED_STAMPS)

# One pytest worker per core (pytest-xdist). A stack's real-cluster cycle is an xdist_group: its
# tests stay in order on one worker, which starts its own control plane, beside the other stack's.
TEST_WORKERS ?= $(shell nproc)
PYTEST = $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

test: venv tools testbed
	$(PYTEST)

test-offline: venv tools
	$(PYTEST) --ignore=tests/cluster

test-cluster: venv tools testbed
	$(PYTEST) tests/cluster

render: venv $(TOOLS)/.helm-$(HELM_VERSION)
	$(PY) scripts/render.py $(STACK)

STACK2 ?= prod
diff-stacks: venv $(TOOLS)/.helm-$(HELM_VERSION)
	$(PY) scripts/render.py --diff $(STACK) $(STACK2)

# The real Pulumi diff of the working tree against BASE on a throwaway control plane, with no secret
# and no cluster of the user's (testbed/preview.py): build/preview/$(STACK).md.
BASE ?=
preview-diff: venv $(TOOLS)/.helm-$(HELM_VERSION) testbed
	$(PY) scripts/preview_diff.py $(STACK) $(if $(BASE),--base $(BASE))

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

bench: venv tools testbed
	$(PY) -m bench.run

clean:
	rm -rf build .pytest_cache
