#!/usr/bin/env bash
# test.sh: the test part of `make test`, run inside hack/with-cluster.sh (one cluster for
# the whole run, in ROTOR_TEST_KUBECONFIG). Both modules' tests, as one report: the
# usual per-package lines, the output of failing tests, then the failures, the ten
# slowest tests and the counts (hack/testreport). The bench programs run at a tiny size as
# tests of their own (bench/smoke); Go benchmarks run once each.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${ROTOR_TEST_KUBECONFIG:?run me through hack/with-cluster.sh}"
parallel=${TEST_PARALLEL:-6}
{
  (cd hack/localcluster && go test -json -count=1 -timeout 10m ./...)
  go test -json -count=1 -timeout 30m -parallel "$parallel" ./...
  # Go benchmarks (func Benchmark…), once each, so that none rots.
  mapfile -t benchmarked < <(grep -rl --include='*_test.go' '^func Benchmark' internal cmd bench 2>/dev/null | xargs -r -n1 dirname | sort -u | sed 's|^|./|')
  if [ "${#benchmarked[@]}" -gt 0 ]; then
    go test -json -count=1 -run '^$' -bench . -benchtime 1x "${benchmarked[@]}"
  fi
} | go run ./hack/testreport
