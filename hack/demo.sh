#!/usr/bin/env bash
# demo.sh: the rotation story on a throw-away local control plane. `make demo` runs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lc="$root/bin/localcluster"
rotor="$root/bin/rotor"
components="$root/hack/localcluster/components"
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
show() { echo "${bold}\$ ${*/#$root\/bin\//}${reset}" >&2; "$@"; }
# A value for the demo: random, never printed, passed on stdin.
value() { head -c 24 /dev/urandom | base64; }

step "Starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
echo "    The first run builds them from the Go module proxy (about 12 minutes on 2 cores); later runs start in seconds."
export KUBECONFIG
KUBECONFIG=$("$lc" up --dir "$dir/cluster" --components "$components" --owner-pid $$)
kubectl="$("$lc" bin --components "$components" 2>/dev/null)/kubectl"
show "$rotor" version

step "Version 1 of the family 'auth-api-secrets': the value comes from standard input, never argv"
v1=$(value | show "$rotor" create auth-api-secrets --from-stdin api-token --from-literal region=eu-west-1)
echo "$v1"

step "A workload that uses version 1 (3 replicas; kwok plays the kubelet)"
"$kubectl" apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: registry.example/api:1.0
        envFrom:
        - secretRef: {name: $v1}
EOF
"$kubectl" rollout status deployment/api

echo "    (version names carry the UTC second they were made in; rotor create waits for the next second when needed)"

step "Rotation: version 2 is a NEW immutable Secret; version 1 stays untouched"
value | show "$rotor" create auth-api-secrets --from-stdin api-token --from-literal region=eu-west-1 >/dev/null
show "$rotor" versions auth-api-secrets

step "Who uses which version? Every reference, with its exact field and role"
show "$rotor" refs --family auth-api-secrets

step "Roll out: re-point every consumer to the latest version, gated by health"
show "$rotor" rollout auth-api-secrets --to latest --yes

step "What production runs now: the spec's version and the pods by version"
show "$rotor" status auth-api-secrets

step "Something is wrong? Rollback is instant: version 1 still exists"
show "$rotor" rollback auth-api-secrets --yes
show "$rotor" status auth-api-secrets

step "Cleanup (dry run): what could go, what stays, and why"
show "$rotor" cleanup auth-api-secrets --retain 0d --keep 1 --dry-run
