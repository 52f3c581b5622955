package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestPlanWritesTheRunbook: the runbook of production's next rotation, before staging
// ran one (golden, with placeholders for the namespaces and the file's place). The
// fake clock is Wednesday 2025-07-23 11:00 UTC, outside the Berlin night window.
func TestPlanWritesTheRunbook(t *testing.T) {
	t.Parallel()
	stg, prd := clusterenv.Namespace(t), clusterenv.Namespace(t)
	clk := newClock(t0)
	for _, ns := range []string{stg, prd} {
		v1 := version(t, clk, ns, "app", "token", "x")
		createDeployment(t, ns, deployment("web", v1, 1))
		createDeployment(t, ns, keyRefDeployment("worker", v1, "token"))
	}
	cfg := writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
  soak: 24h
  verify: {job: integration-tests}
- name: production
  namespaces: [%s]
  requires: [staging]
  strategy: {type: bluegreen, steps: [10, 50, 100], pause: 5m}
  analysis: {template: error-rate.yaml, args: {service: auth}}
  watch: 1h
  windows:
  - {days: [Tue, Wed, Thu], start: "02:00", end: "05:00", timeZone: Europe/Berlin}
  retention: {retain: 14d, keep: 2}
families:
- name: app
  requiredKeys: [token]
`, stg, prd)
	template := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
spec:
  metrics:
  - name: error-rate
    interval: 1m
    count: 5
    successCondition: result[0] < 0.05
    provider:
      prometheus:
        address: http://127.0.0.1:9
        query: sum(rate(http_requests_total{service="{{args.service}}",code=~"5.."}[1m])) / sum(rate(http_requests_total{service="{{args.service}}"}[1m]))
`
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "error-rate.yaml"), []byte(template), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, prd)
	r := run(t, clk, "", "plan", "app", "--env", "production", "--config", cfg)
	if r.Code != 0 {
		t.Fatalf("plan: %+v", r)
	}
	assertUnchanged(t, prd, before)
	assertGolden(t, "plan-production", r.Stdout, map[string]string{"NS-STG": stg, "NS-PRD": prd, "CONFIG": cfg})

	dev := run(t, clk, "", "plan", "app", "--env", "staging", "--config", cfg)
	if dev.Code != 0 || !strings.Contains(dev.Stdout, "verification Job `integration-tests`") || !strings.Contains(dev.Stdout, "production may follow") {
		t.Fatalf("plan staging: %+v", dev)
	}
}

// TestAnInvalidConfigRefusesEveryProblemWithItsPosition: a command in an environment
// reads rotor.yaml strictly; every problem is reported with file:line:column (golden),
// and nothing changes.
func TestAnInvalidConfigRefusesEveryProblemWithItsPosition(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	v1 := version(t, newClock(t0), ns, "app", "token", "x")
	createDeployment(t, ns, deployment("web", v1, 1))
	cfg := writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
  strategy: {type: canary, steps: [10, 50]}
  soak: one day
  verify: {jobs: tests}
- name: production
  namespaces: [%s]
  requires: [stagin]
  windows:
  - {days: [Tue], start: "2:00", end: "05:00", timeZone: Europe/Berln}
  retention: {retain: 14d, kepe: 2}
`, ns, ns)
	before := snapshot(t, ns)
	r := run(t, nil, "new", "rotate", "app", "--env", "staging", "--config", cfg, "--from-stdin", "token", "--yes")
	if r.Code != 1 || r.Stdout != "" {
		t.Fatalf("rotate with an invalid rotor.yaml: %+v", r)
	}
	assertUnchanged(t, ns, before)
	assertGolden(t, "config-invalid", r.Stderr, map[string]string{"NS": ns, "CONFIG": cfg})
}
