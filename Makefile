# rotor — the two commands on a fresh machine are `make demo` and `make test`.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO            ?= go
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
LDFLAGS       := -X github.com/rotor-project/rotor/internal/buildinfo.Version=$(VERSION)
CACHE_DIR     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rotor
GOLANGCI_VERSION := v2.15.0
GOLANGCI_LINT := $(CACHE_DIR)/tools/golangci-lint-$(GOLANGCI_VERSION)/golangci-lint
LOCALCLUSTER  := bin/localcluster
CLUSTER_DIR   := .localcluster
# FUZZTIME, when set (e.g. 30s or 100000x), replaces every target's own budget.
FUZZTIME      ?=
# The fuzz targets `make fuzz` (and so `make test`) runs, as package-directory:FuzzName:
# budget. Each has a committed seed corpus in its package's testdata/fuzz/FuzzName. A
# budget is a count of executions (about 5 s each on a quiet 2-core machine), not a
# duration: Go 1.26's fuzzing coordinator can report its own -fuzztime deadline as a
# failure ("context deadline exceeded", go.dev/issue/75804) when a busy machine delays a
# worker, and a count has no deadline. Add new targets here.
FUZZ_TARGETS  := \
	internal/family:FuzzParse:200000x \
	internal/retention:FuzzParseDuration:200000x \
	internal/secretdata:FuzzParseLiteral:100000x \
	internal/secretdata:FuzzParseEnvFile:30000x \
	internal/refs:FuzzReadManifest:5000x \
	internal/analysis:FuzzParse:10000x \
	internal/config:FuzzConfigParse:40000x \
	internal/gitops:FuzzSetRewrite:5000x
MODULES       := . hack/localcluster hack/helmtool test/helmfixture
# Addons the test suite uses (built before any test runs; each started once per run).
TEST_ADDONS   := argo-rollouts,external-secrets,flux
# e2e tests that may run at once on the one cluster (each in its own namespaces).
TEST_PARALLEL ?= 6
HELMTOOL      := bin/helmtool
CHART         := deploy/charts/rotor
CHART_VARIANTS := --set 'scopedNamespaces={team-a,team-b}' --set serviceMonitor.enabled=true --set prometheusRule.enabled=true --set leaderElection.enabled=false

# rotor is built without cgo, as kubectl is: cli-runtime's kustomize support imports Go's
# plugin package, which with cgo makes the linker export every symbol dynamically (16 MB
# of symbol tables the loader maps and reads at every start: ~6 MB more resident memory).
.PHONY: build
build: ## Build bin/rotor
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/rotor ./cmd/rotor

.PHONY: install-plugin
install-plugin: build ## Install rotor as the kubectl plugin kubectl-rotor into $(GOPATH)/bin
	install -m 0755 bin/rotor "$$($(GO) env GOPATH)/bin/kubectl-rotor"

$(LOCALCLUSTER): $(wildcard hack/localcluster/*.go) hack/localcluster/go.mod
	cd hack/localcluster && $(GO) build -o ../../$(LOCALCLUSTER) .

.PHONY: localcluster-build
localcluster-build: $(LOCALCLUSTER) ## Build (or find cached) control-plane binaries: minutes the first time, with progress
	$(LOCALCLUSTER) build --components hack/localcluster/components >/dev/null

.PHONY: addons-build
addons-build: $(LOCALCLUSTER) ## Build (or find cached) the addons the tests use: Argo Rollouts, ESO, Flux (minutes each the first time)
	$(LOCALCLUSTER) build --components hack/localcluster/components --addons $(TEST_ADDONS) >/dev/null

.PHONY: cluster
cluster: $(LOCALCLUSTER) ## Start a local control plane (ADDONS="argo-rollouts flux" adds addons); kubeconfig in .localcluster/kubeconfig
	$(LOCALCLUSTER) up --dir $(CLUSTER_DIR) --components hack/localcluster/components $(if $(ADDONS),--addons "$(ADDONS)") >/dev/null
	@echo "export KUBECONFIG=$(CURDIR)/$(CLUSTER_DIR)/kubeconfig"

.PHONY: cluster-down
cluster-down: $(LOCALCLUSTER) ## Stop the cluster `make cluster` started
	$(LOCALCLUSTER) down --dir $(CLUSTER_DIR)

.PHONY: demo
demo: build test-deps $(LOCALCLUSTER) ## Play the whole story (dev, staging, soak, production, rollback, cleanup) on a throw-away local cluster
	$(GO) build -o bin/demo-metrics ./hack/demo/metrics
	hack/demo.sh

.PHONY: test-deps
test-deps: ## Install what the tests need beyond Go: a real Prometheus (Debian package) for the metric-analysis tests
	@if ! command -v prometheus >/dev/null 2>&1; then \
		echo "installing prometheus (Debian package; tests start their own instance, never on port 9090)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends prometheus; \
	fi

.PHONY: test
test: test-deps lint fuzz chart-test localcluster-build addons-build ## All checks and tests: gofmt, vet, golangci-lint, fuzz, helm lint/template, unit, e2e, benchmarks at a tiny size
	ROTOR_HELMTOOL=$(CURDIR)/$(HELMTOOL) TEST_PARALLEL=$(TEST_PARALLEL) hack/with-cluster.sh hack/test.sh

$(HELMTOOL): hack/helmtool/main.go hack/helmtool/go.mod
	cd hack/helmtool && $(GO) build -o ../../$(HELMTOOL) .

.PHONY: chart-test
chart-test: $(HELMTOOL) ## helm lint and helm template of the chart, default and every optional part (Helm's Go module, hack/helmtool)
	$(HELMTOOL) lint $(CHART) --strict
	$(HELMTOOL) lint $(CHART) --strict $(CHART_VARIANTS)
	$(HELMTOOL) template rotor $(CHART) --namespace rotor-system >/dev/null
	$(HELMTOOL) template rotor $(CHART) --namespace rotor-system $(CHART_VARIANTS) >/dev/null

.PHONY: unit
unit: test-deps ## Tests that need no cluster (the analysis tests start a real Prometheus)
	$(GO) test -count=1 ./internal/... ./cmd/...

.PHONY: e2e
e2e: test-deps localcluster-build addons-build ## Behaviour tests on a local control plane
	hack/with-cluster.sh bash -c '$(GO) test -json -count=1 -timeout 30m -parallel $(TEST_PARALLEL) ./test/... | $(GO) run ./hack/testreport'

CONTROLLER_GEN := sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0

.PHONY: generate
generate: ## Regenerate the deep copies of api/v1alpha1 and the CRDs in deploy/charts/rotor/crds (controller-gen from the Go module proxy)
	$(GO) run $(CONTROLLER_GEN) object crd paths=./api/... output:crd:artifacts:config=deploy/charts/rotor/crds

.PHONY: fuzz
fuzz: ## Fuzz every parser of user input briefly (FUZZ_TARGETS, each its budget or FUZZTIME)
	@for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; rest=$${target#*:}; name=$${rest%%:*}; budget=$${rest#*:}; \
		if [ -n "$(FUZZTIME)" ]; then budget="$(FUZZTIME)"; fi; \
		echo "fuzz: $$name in ./$$pkg for $$budget"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget ./$$pkg || exit 1; \
	done

.PHONY: lint
lint: $(GOLANGCI_LINT) ## gofmt, go vet and golangci-lint over both modules
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done
	for m in $(MODULES); do (cd $$m && $(GOLANGCI_LINT) run --config $(CURDIR)/.golangci.yml ./...); done

$(GOLANGCI_LINT):
	@echo "installing golangci-lint $(GOLANGCI_VERSION) from the Go module proxy (once; cached in $(dir $@))"
	GOBIN=$(dir $@) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

# Every bench-* target takes its cluster the same way: the one named by
# ROTOR_TEST_KUBECONFIG (as hack/with-cluster.sh hands it over), or a throw-away one
# with-cluster.sh starts. `make test` runs each at a tiny size (bench/smoke).

.PHONY: bench-cleanup
bench-cleanup: $(LOCALCLUSTER) ## rotor cleanup over BENCH_NAMESPACES (default 1,000) namespaces: 10 candidates within 1.2x of 1 (bench/cleanup/README.md)
	ROTOR_BENCH=1 ROTOR_BENCH_NAMESPACES=$(or $(BENCH_NAMESPACES),1000) ROTOR_BENCH_ROUNDS=$(or $(BENCH_ROUNDS),5) \
	hack/with-cluster.sh $(GO) test -count=1 -v -timeout 60m ./bench/cleanup

.PHONY: bench-refs
bench-refs: build $(LOCALCLUSTER) ## rotor refs -A vs kubectl|grep and raw fetch, over BENCH_NAMESPACES (default 100) namespaces (bench/README.md)
	KUBECTL_DIR=$$(cd hack/localcluster && $(GO) run . bin) && \
	hack/with-cluster.sh $(GO) run ./bench/refs --kubectl "$$KUBECTL_DIR/kubectl" --rotor bin/rotor --namespaces $(or $(BENCH_NAMESPACES),100) $(BENCH_ARGS)

.PHONY: bench-rollout
bench-rollout: build $(LOCALCLUSTER) ## rotor rollout/rollback vs kubectl patch + rollout status, 50 Deployments (bench/rollout/README.md)
	KUBECTL_DIR=$$(cd hack/localcluster && $(GO) run . bin) && \
	hack/with-cluster.sh $(GO) run ./bench/rollout --kubectl "$$KUBECTL_DIR/kubectl" --rotor bin/rotor $(BENCH_ARGS)

.PHONY: bench-controller
bench-controller: $(LOCALCLUSTER) ## rotor controller over BENCH_NAMESPACES (default 1000) namespaces: RSS and new version to re-pointed over BENCH_FAMILIES (50) families, one every BENCH_INTERVAL (200ms) (bench/controller/README.md)
	ROTOR_BENCH=1 BENCH_NAMESPACES=$(or $(BENCH_NAMESPACES),1000) BENCH_FAMILIES=$(or $(BENCH_FAMILIES),50) \
		hack/with-cluster.sh $(GO) test -count=1 -v -timeout 180m -run TestControllerBench ./bench/controller

.PHONY: clean
clean:
	rm -rf bin
