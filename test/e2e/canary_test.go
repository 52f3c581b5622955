package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestNoCommandPrintsASecretValue plants canary values in two versions and runs every
// command over them, successes and failures alike: no output, annotation, record or
// Event may contain a value.
func TestNoCommandPrintsASecretValue(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	const canary = "CANARY-3b1e-do-not-print"
	clk := newClock(t0)
	var names []string
	for i := 0; i < 2; i++ {
		r := run(t, clk, canary+"-stdin", "create", "app", "-n", ns, "--from-stdin", "token", "--from-literal", "other="+canary+"-lit")
		if r.Code != 0 {
			t.Fatalf("create: %+v", r)
		}
		names = append(names, strings.TrimSpace(r.Stdout))
		clk.Step(24 * time.Hour)
	}
	createDeployment(t, ns, keyRefDeployment("web", names[0], "token"))
	var outputs []result
	for _, args := range [][]string{
		{"versions", "app", "-n", ns, "-o", "yaml"},
		{"refs", "--family", "app", "-n", ns, "-o", "json"},
		{"rollout", "app", "-n", ns, "--to", names[1], "--dry-run=server"},
		{"rollout", "app", "-n", ns, "--to", names[1], "--yes"},
		{"status", "app", "-n", ns, "-o", "json"},
		{"rollback", "app", "-n", ns, "--yes"},
		{"rollout", "app", "-n", ns, "--to", "app-20300101000000", "--yes"}, // refused
		{"cleanup", "app", "-n", ns, "--retain", "0d", "--keep", "1", "--dry-run", "-o", "json"},
	} {
		outputs = append(outputs, run(t, nil, "", args...))
	}
	for i, r := range outputs {
		if strings.Contains(r.Stdout+r.Stderr, canary) {
			t.Fatalf("invocation %d printed a value:\nstdout: %s\nstderr: %s", i, r.Stdout, r.Stderr)
		}
	}
	c := clusterenv.Client(t)
	ctx := context.Background()
	cms, _ := c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	deps, _ := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	evs, _ := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	for what, obj := range map[string]any{"configmaps (rotation records)": cms, "deployments": deps, "events": evs} {
		b, _ := json.Marshal(obj)
		if strings.Contains(string(b), canary) {
			t.Fatalf("%s contain a value", what)
		}
	}
	if len(cms.Items) < 2 {
		t.Fatalf("expected rotation records, got %d configmaps", len(cms.Items))
	}
}
