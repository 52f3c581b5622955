#!/usr/bin/env bash
# demo.sh: the story rotor was written for, played on a throw-away local control plane
# (`make demo`). Three namespaces of one cluster stand in for the environments of a
# rotor.yaml: dev (unversioned: the dev flow), staging (stg) and production (prd, only
# after staging soaked, blue-green, gated by a real Prometheus). A team on one mutable
# Secret adopts versions, rotates in staging, is refused in production until the soak
# has ended, promotes; a later token crash-loops production's pods and is rolled back by
# itself; history, the runbook and cleanup close it. Helpers live in hack/demo/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lc="$root/bin/localcluster"
components="$root/hack/localcluster/components"
dir=$(mktemp -d "${TMPDIR:-/tmp}/rotor-demo.XXXXXX")
# shellcheck source=hack/demo/lib.sh
. "$root/hack/demo/lib.sh"
# shellcheck source=hack/demo/world.sh
. "$root/hack/demo/world.sh"
trap stop_all EXIT

start() {
  step "A local control plane (etcd, kube-apiserver, controller-manager, scheduler; kwok as the kubelet) and Prometheus"
  say "The first run builds the control plane from the Go module proxy (about 12 minutes on 2 cores); later runs start in seconds."
  start_prometheus "$dir/prometheus"
  export KUBECONFIG
  KUBECONFIG=$("$lc" up --dir "$dir/cluster" --components "$components" --owner-pid $$)
  PATH="$root/bin:$("$lc" bin --components "$components" 2>/dev/null):$PATH"
  prometheus=$(prometheus_url)
  say "Prometheus $prometheus scrapes the demo's exporter: app_requests_total{service=\"auth\",code=...}, no errors."
  cd "$dir"
}

configure() {
  step "rotor.yaml: the environments a Secret family moves through, and the policy of each"
  write_config "$dir" "$prometheus"
  show cat rotor.yaml
  show rotor config validate
  show rotor config explain --env production --family "$family"
}

the_team_today() {
  step "Today every environment reads one mutable Secret, $family"
  deploy dev 2
  deploy stg 4
  deploy prd 10
  verify_job stg "$family"
  kubectl -n prd rollout status deployment/api >/dev/null
  show rotor versions "$family" -A
  say "In each namespace a Deployment, api, reads it (envFrom); staging also has a suspended Job, integration-tests."
}

dev_flow() {
  step "The dev flow: dev is unversioned, so rotate replaces the data in place and restarts its consumers"
  show_value rotor rotate "$family" --env dev --from-previous --set api-token --yes
}

adopt() {
  step "The migration to versions: adopt copies $family into an immutable first version, inside the cluster"
  say "Every consumer is re-pointed to it by the environment's strategy (production: blue-green with its analysis)."
  show rotor adopt "$family" --env staging --yes
  show rotor adopt "$family" --env production --yes
  show rotor versions "$family" -n prd
}

staging() {
  step "A rotation in staging: a new version, rolled out, verified by the integration-tests Job"
  say "--from-previous copies the other keys inside the cluster; only api-token is new (from stdin)."
  show_value rotor rotate "$family" --env staging --from-previous --set api-token --yes
}

production_waits_for_the_soak() {
  step "Nothing lets production go first"
  refused --value rotor rotate "$family" --env production --from-previous --set api-token --yes
  refused --value rotor promote "$family" --env production --from-previous --set api-token --yes
  show rotor status "$family" --env staging
  soak=$(soak_end "$dir/refusal")
  sleep_until "$soak"
}

promote() {
  step "After the soak: production by blue-green, 10% → 50% → 100%, each step gated by the Prometheus analysis"
  show_value rotor promote "$family" --env production --from-previous --set api-token --yes
  show rotor status "$family" --env production
}

bad_version() {
  step "A bad token: it passes staging, but production's pods crash-loop with it"
  crash_newer_than prd "$(spec_version prd)"
  say "(a kwok Stage now makes every pod in prd that reads a newer version crash-loop)"
  show_value rotor rotate "$family" --env staging --from-previous --set api-token --yes
  say "While staging soaks, the runbook of the next production rotation (excerpts):"
  prompt "rotor plan $family --env production > runbook.md"
  rotor plan "$family" --env production >runbook.md
  sed -n '/^## Before you start/,/^## Commands/p;/^## Rollback/,/^## References/p' runbook.md | sed '/^## Commands\|^## References/d'
  soak=$(soak_end runbook.md)
  sleep_until "$soak"
  say "The promotion starts; at 10% the green pod crash-loops and rotor rolls back by itself:"
  if show_value rotor promote "$family" --env production --from-previous --set api-token --yes 2> >(tee "$dir/failure" >&2); then
    echo "demo: the bad version should have failed in production" >&2
    exit 1
  fi
  wait $! # tee has written everything
  grep -q '^error: rotation failed: .*CrashLoopBackOff' "$dir/failure" || { echo "demo: the promotion failed, but not by the crash loop" >&2; exit 1; }
  show rotor status "$family" --env production
}

history() {
  step "The audit trail: every production rotation with its checklist, and where it was promoted from"
  show rotor history "$family" --env production
}

cleanup() {
  step "Cleanup (retain 15s, keep 1, as rotor.yaml says): what may go is deleted, the rest is kept with its reason"
  show rotor cleanup "$family" -A --retain 15s --keep 1 --yes
  say "The staging rotation that replaced the deleted version has the last item of its checklist now:"
  prompt "rotor history $family --env staging | grep -e '^Rollout' -e 'old version'"
  rotor history "$family" --env staging | grep -e '^Rollout' -e 'old version'
}

start
configure
the_team_today
dev_flow
adopt
staging
production_waits_for_the_soak
promote
bad_version
history
cleanup
