package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/internal/cli"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestCleanupOutcomes produces every outcome in one namespace: a version nothing
// names (deleted), one a Deployment uses (referenced), one only an old ReplicaSet
// made by the controller-manager names (rollback target), one named in a manifest
// file, one a monthly CronJob left 20 days ago (CronJob retention) and one a monthly
// CronJob left 90 days ago (deleted), one replaced recently (retention), and the two
// newest. The dry run changes nothing; the real run deletes exactly the two.
func TestCleanupOutcomes(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	ctx := context.Background()
	c := clusterenv.Client(t)
	w.versions(t, 9)
	for _, name := range []string{"app", "app-foo", "appx-20250101000000", "app-20250101000000-x"} {
		w.secret(t, name)
	}
	if _, err := c.AppsV1().Deployments(w.ns).Create(ctx, deployment("live", w.v(2), 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Settled before the snapshot below: its status changes no more.
	waitAvailable(t, c, w.ns, "live")
	w.rollDeployment(t, "web", w.v(3), w.v(9))
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "apps", "api.yaml"), fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
      - name: app
        envFrom:
        - secretRef:
            name: %s
`, w.v(4)))
	w.cronJob(t, "monthly", "0 3 1 * *", w.v(9))
	w.cronRecord(t, "monthly", w.v(5), w.v(9), 20)
	w.cronJob(t, "old-monthly", "@monthly", w.v(9))
	w.cronRecord(t, "old-monthly", w.v(6), w.v(9), 90)
	w.cronRecord(t, "gone", w.v(7), w.v(9), 3) // a CronJob since deleted: its record still dates the replacement

	before := snapshot(t, w.ns)
	dry := cleanupRun(t, w, false, nil, "--dry-run", "--path", dir)
	if dry.Code != 0 {
		t.Fatalf("dry run: %+v", dry)
	}
	t.Logf("dry run:\n%s%s", dry.Stdout, dry.Stderr)
	assertUnchanged(t, w.ns, before)
	for _, want := range []string{"would delete", "kept: referenced", "kept: rollback target", "kept: in manifests", "kept: CronJob retention", "kept: newest", "kept: retention", "dry run (client): nothing was deleted"} {
		if !strings.Contains(dry.Stdout+dry.Stderr, want) {
			t.Errorf("dry run output lacks %q:\n%s\n%s", want, dry.Stdout, dry.Stderr)
		}
	}

	rep, by, r := cleanupJSON(t, w, "--dry-run", "--path", dir)
	if r.Code != 0 || rep.Kind != "CleanupReport" || rep.DryRun != "client" || rep.ReferenceScans != 1 {
		t.Fatalf("report = %+v (%+v)", rep, r)
	}
	assertUnchanged(t, w.ns, before)
	want := map[int]string{
		1: "delete", 2: "kept: referenced", 3: "kept: rollback target", 4: "kept: in manifests",
		5: "kept: CronJob retention", 6: "delete", 7: "kept: retention", 8: "kept: newest", 9: "kept: newest",
	}
	for i, outcome := range want {
		if got := by[w.v(i)].Outcome; got != outcome {
			t.Errorf("version %d (%s): outcome %q, want %q", i, w.v(i), got, outcome)
		}
	}
	if len(rep.Items) != 9 {
		t.Errorf("report has %d items; want only the 9 versions (unversioned and look-alikes are not versions)", len(rep.Items))
	}
	if it := by[w.v(2)]; !hasRef(it, "Deployment", "live") {
		t.Errorf("referenced version does not name its Deployment: %+v", it.References)
	}
	if it := by[w.v(3)]; len(it.RollbackTargets) == 0 || it.RollbackTargets[0].Owner == nil || it.RollbackTargets[0].Owner.Name != "web" || it.RollbackTargets[0].Revision != "1" {
		t.Errorf("rollback target does not name Deployment web revision 1: %+v", it.RollbackTargets)
	}
	if it := by[w.v(4)]; len(it.Manifests) != 1 || it.Manifests[0].File != filepath.Join(dir, "apps", "api.yaml") || it.Manifests[0].Line != 12 {
		t.Errorf("manifest reference = %+v; want apps/api.yaml line 12", it.Manifests)
	}
	if it := by[w.v(5)]; len(it.CronJobs) != 1 || it.CronJobs[0].Name != "monthly" || it.CronJobs[0].RepointSource != "record" || it.ClockSource != "replaced" || it.HeldUntil == "" {
		t.Errorf("CronJob retention evidence = %+v", it)
	}
	if it := by[w.v(7)]; it.ClockSource != "replaced" {
		t.Errorf("version replaced 3 days ago counts from %q; want replaced", it.ClockSource)
	}
	if it := by[w.v(1)]; it.ClockSource != "created" {
		t.Errorf("version never replaced counts from %q; want created", it.ClockSource)
	}

	// The real run: with --yes and no terminal.
	run := cleanupRun(t, w, false, nil, "--yes", "--path", dir)
	if run.Code != 0 {
		t.Fatalf("cleanup: %+v", run)
	}
	left := secretNames(t, w.ns)
	for i := 1; i <= 9; i++ {
		gone := i == 1 || i == 6
		if left[w.v(i)] == gone {
			t.Errorf("version %d exists=%v after cleanup; want deleted=%v\n%s", i, left[w.v(i)], gone, run.Stdout)
		}
	}
	for _, name := range []string{"app", "app-foo", "appx-20250101000000", "app-20250101000000-x"} {
		if !left[name] {
			t.Errorf("%s is not a version but was deleted", name)
		}
	}
	if strings.Count(run.Stdout, "deleted") < 2 || strings.Contains(run.Stdout+run.Stderr, "canary-value") {
		t.Errorf("report:\n%s\n%s", run.Stdout, run.Stderr)
	}
}

// hasRef reports whether the item's live references include kind/name.
func hasRef(it cli.CleanupReportItem, kind, name string) bool {
	for _, r := range it.References {
		if r.Kind == kind && r.Name == name {
			return true
		}
	}
	return false
}
