#!/usr/bin/env bash
# with-cluster.sh CMD...: run CMD with one local control plane for the whole run, handed
# over in the environment: ROTOR_TEST_KUBECONFIG (its admin kubeconfig),
# ROTOR_TEST_CLUSTER_DIR (its localcluster state directory: addons, logs) and
# ROTOR_TEST_LOCALCLUSTER (the localcluster tool). localcluster chooses the ports (below
# the kernel's ephemeral range, starting again on others if one is taken meanwhile).
# The cluster stops when CMD ends, however it ends.
#
# When ROTOR_TEST_KUBECONFIG is set already (a cluster handed over by an outer
# with-cluster.sh, or one of your own), CMD runs on that cluster and none is started.
# ADDONS="argo-rollouts flux" starts addons with the cluster.
set -euo pipefail
if [ -n "${ROTOR_TEST_KUBECONFIG:-}" ]; then
  exec "$@"
fi
root=$(cd "$(dirname "$0")/.." && pwd)
lc="$root/bin/localcluster"
(cd "$root/hack/localcluster" && go build -o "$lc" .)
export ROTOR_TEST_LOCALCLUSTER="$lc"
dir=$(mktemp -d "${TMPDIR:-/tmp}/rotor-test-cluster.XXXXXX")
cleanup() {
  "$lc" down --dir "$dir/cluster" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
kc=$("$lc" up --dir "$dir/cluster" --components "$root/hack/localcluster/components" --owner-pid $$ \
  ${ADDONS:+--addons "$ADDONS"}) || { echo "with-cluster: could not start the local control plane" >&2; exit 1; }
ROTOR_TEST_KUBECONFIG="$kc" ROTOR_TEST_CLUSTER_DIR="$dir/cluster" "$@"
