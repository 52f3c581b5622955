# shellcheck shell=bash
# world.sh: what hack/demo.sh plays on: rotor.yaml and its analysis, the namespaces that
# stand in for the environments (one cluster), their workloads, and the kwok Stage that
# makes a bad version crash-loop. Sourced, not run.

family=auth-api-secrets

# write_config DIR PROMETHEUS_URL: rotor.yaml and the analysis template production uses.
# Durations are a demo's (seconds, not days); the maintenance window is the three hours
# around now, so the demo runs whenever it is started.
write_config() {
  local from to
  from=$(date -u -d '-1 hour' +%H:00)
  to=$(date -u -d '+2 hour' +%H:00)
  cat >"$1/error-rate.yaml" <<EOF
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-rate}
spec:
  args:
  - name: service
  metrics:
  - name: error-rate
    interval: 2s
    successCondition: result[0] < 0.01
    provider:
      prometheus:
        address: $2
        query: sum(rate(app_requests_total{service="{{args.service}}",code="500"}[10s])) / sum(rate(app_requests_total{service="{{args.service}}"}[10s]))
EOF
  cat >"$1/rotor.yaml" <<EOF
apiVersion: rotor.dev/v1alpha1
kind: Config
environments:
- name: dev
  namespaces: [dev]
  versioned: false                  # the dev flow: in-place update + restart
- name: staging
  namespaces: [stg]
  strategy: {type: rolling}
  soak: 20s                         # 24h in real life
  verify: {job: integration-tests}  # a Job template run against each new version
  retention: {retain: 15s, keep: 1}
- name: production
  namespaces: [prd]
  requires: [staging]               # only what ran healthily in staging, after its soak
  strategy: {type: bluegreen, steps: [10, 50, 100], pause: 3s}
  analysis: {template: error-rate.yaml, args: {service: auth}}
  watch: 10s                        # the analysis keeps running after the last step
  windows:
  - {start: "$from", end: "$to", timeZone: UTC}
  retention: {retain: 15s, keep: 1}
families:
- name: $family
  requiredKeys: [api-token]
EOF
}

# deploy NS REPLICAS: the namespace, the team's unversioned Secret (a random token, from
# stdin) and a Deployment that reads it. It keeps one old ReplicaSet
# (revisionHistoryLimit: 1): cleanup keeps what `kubectl rollout undo` would need.
deploy() {
  kubectl create namespace "$1" >/dev/null
  head -c 24 /dev/urandom | base64 | kubectl -n "$1" create secret generic "$family" \
    --from-file=api-token=/dev/stdin --from-literal=region=eu-west-1 >/dev/null
  kubectl -n "$1" apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: $2
  revisionHistoryLimit: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: registry.example/api:1.0
        envFrom:
        - secretRef: {name: $family}
EOF
}

# verify_job NS SECRET: the suspended Job whose copy staging's verification runs against
# each new version ("integration tests"; kwok completes its pod). rotor points the copy's
# references to the family, SECRET among them, at the version under test.
verify_job() {
  kubectl -n "$1" apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: integration-tests}
spec:
  suspend: true
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: tests
        image: registry.example/integration-tests:1.0
        envFrom:
        - secretRef: {name: $2}
EOF
}

# crash_newer_than NS VERSION: a kwok Stage under which every new pod in NS that reads a
# version of the family newer than VERSION crash-loops, as a real kubelet reports a
# container that exits at start (version names sort by their UTC time).
crash_newer_than() {
  kubectl apply -f - >/dev/null <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: crash-loop-$1}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  weight: 10
  selector:
    matchExpressions:
    - {key: .metadata.namespace, operator: In, values: ["$1"]}
    - key: '[.spec.containers[].envFrom[]?.secretRef.name | select(startswith("$family-"))] | any(. > "$2")'
      operator: In
      values: ["true"]
    - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
    - {key: .status.phase, operator: In, values: [Pending]}
  next:
    statusTemplate: |
      {{ \$now := Now }}
      phase: Running
      conditions:
      - type: Ready
        status: "False"
        lastTransitionTime: {{ \$now | Quote }}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name }}
        image: {{ .image }}
        ready: false
        restartCount: 5
        state:
          waiting:
            reason: CrashLoopBackOff
            message: back-off restarting failed container
      {{ end }}
EOF
}

# spec_version NS: the Secret the Deployment api names now.
spec_version() {
  kubectl -n "$1" get deployment api -o jsonpath='{.spec.template.spec.containers[0].envFrom[0].secretRef.name}'
}
