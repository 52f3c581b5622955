#!/usr/bin/env bash
# test.sh: the test part of `make test`, run inside hack/with-cluster.sh (one cluster for
# the whole run, in ROTOR_TEST_KUBECONFIG). Both modules' tests, as one report: the
# usual per-package lines, the output of failing tests, then the failures, the ten
# slowest tests and the counts (hack/testreport). The benchmarks run at a tiny size as
# tests of their own (bench/smoke).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${ROTOR_TEST_KUBECONFIG:?run me through hack/with-cluster.sh}"
parallel=${TEST_PARALLEL:-6}
{
  (cd hack/localcluster && go test -json -count=1 -timeout 10m ./...)
  go test -json -count=1 -timeout 30m -parallel "$parallel" ./...
} | go run ./hack/testreport
