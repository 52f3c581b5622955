#!/usr/bin/env bash
# with-cluster.sh CMD...: run CMD with one local control plane for the whole run.
# Starts it on free loopback ports, hands its kubeconfig to the tests through
# ROTOR_TEST_KUBECONFIG, and stops it when CMD ends, however it ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lc="$root/bin/localcluster"
(cd "$root/hack/localcluster" && go build -o "$lc" .)
dir=$(mktemp -d "${TMPDIR:-/tmp}/rotor-test-cluster.XXXXXX")
cleanup() {
  "$lc" down --dir "$dir/cluster" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
kc=""
for attempt in 1 2 3; do
  base=${ROTOR_TEST_PORT_BASE:-$((32000 + (RANDOM % 2800) * 10))}
  if kc=$("$lc" up --dir "$dir/cluster" --components "$root/hack/localcluster/components" --port-base "$base" --owner-pid $$); then
    break
  fi
  kc=""
  echo "with-cluster: start attempt $attempt failed" >&2
done
[ -n "$kc" ] || { echo "with-cluster: could not start the local control plane" >&2; exit 1; }
ROTOR_TEST_KUBECONFIG="$kc" "$@"
