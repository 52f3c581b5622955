#!/usr/bin/env bash
# demo.sh: the rotation story on a throw-away local control plane. `make demo` runs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lc="$root/bin/localcluster"
rotor="$root/bin/rotor"
dir=$(mktemp -d "${TMPDIR:-/tmp}/rotor-demo.XXXXXX")
cleanup() {
  echo
  echo "==> Stopping the local control plane"
  "$lc" down --dir "$dir/cluster" 2>&1 | sed 's/^/    /' || true
  rm -rf "$dir"
}
trap cleanup EXIT

bold=$(tput bold 2>/dev/null || true); reset=$(tput sgr0 2>/dev/null || true)
step() { echo; echo "${bold}==> $*${reset}"; }
show() { echo "${bold}\$ $*${reset}"; "$@"; }

step "Starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
echo "    The first run builds them from the Go module proxy (about 12 minutes on 2 cores); later runs start in seconds."
export KUBECONFIG
KUBECONFIG=$("$lc" up --dir "$dir/cluster" --components "$root/hack/localcluster/components" \
  --port-base "${ROTOR_DEMO_PORT_BASE:-$((33000 + (RANDOM % 1000) * 10))}" --owner-pid $$)
show "$rotor" version

step "Version 1 of the family 'auth-api-secrets': the value comes from standard input, never argv"
printf '%s' "token-v1-$RANDOM$RANDOM" | show "$rotor" create auth-api-secrets --from-stdin api-token --from-literal region=eu-west-1

echo "    (version names carry the UTC second they were made in; waiting for the next second)"
sleep 1

step "Version 2: a rotation creates a NEW immutable Secret; version 1 stays untouched"
printf '%s' "token-v2-$RANDOM$RANDOM" | show "$rotor" create auth-api-secrets --from-stdin api-token --from-literal region=eu-west-1

step "Both versions exist side by side; rollback will be a change of reference, not a restore"
show "$rotor" versions auth-api-secrets

step "The same list as a stable JSON document for scripts (key names only, never values)"
show "$rotor" versions auth-api-secrets -o json
