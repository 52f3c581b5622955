package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestBreakGlassIsRecordedWithTheCallersIdentityAndReason: during the soak, an
// emergency promotion goes through, and its journal says who (as the API server
// authenticated them), why, and what it overrode.
func TestBreakGlassIsRecordedWithTheCallersIdentityAndReason(t *testing.T) {
	t.Parallel()
	w := newPromoteWorld(t)
	if r := run(t, nil, "staging-token", "rotate", "app", "--env", "staging", "--config", w.config, "--from-previous", "--set", "token", "--yes"); r.Code != 0 {
		t.Fatalf("rotate staging: %+v", r)
	}
	// The real clock: staging's soak of 1d has just begun. (A fake clock ahead of the
	// API server's would name versions in the future, which rotor refuses.)
	var clk *steppingClock
	noReason := run(t, clk, "x", "promote", "app", "--env", "production", "--config", w.config, "--from-stdin", "token", "--break-glass", "--yes")
	if noReason.Code != 1 || !strings.Contains(noReason.Stderr, "--break-glass needs --reason") {
		t.Fatalf("break-glass without a reason: %+v", noReason)
	}
	r := run(t, clk, "prod-token", "promote", "app", "--env", "production", "--config", w.config, "--from-previous", "--set", "token", "--yes",
		"--break-glass", "--reason", "INC-4711: the token leaked", "--as", "alice", "--as-group", "system:masters")
	if r.Code != 0 || !strings.Contains(r.Stderr, "BREAK-GLASS by alice") {
		t.Fatalf("break-glass promotion: %+v", r)
	}
	rot := lastRotation(t, w.prd, "app")
	bg := rot.Spec.Environment.BreakGlass
	if bg == nil || bg.By != "alice" || bg.Reason != "INC-4711: the token leaked" || len(bg.Overrode) != 1 || !strings.Contains(bg.Overrode[0], "its soak of 1d ends") {
		t.Fatalf("break-glass record: %+v", bg)
	}
	var entry *v1alpha1.ChecklistEntry
	for i, e := range rot.Status.Checklist {
		if e.Name == "break-glass" {
			entry = &rot.Status.Checklist[i]
		}
	}
	if entry == nil || entry.By != "alice" || !strings.Contains(entry.Detail, "INC-4711") || rot.Status.Phase != v1alpha1.Succeeded {
		t.Fatalf("checklist %+v, phase %s", rot.Status.Checklist, rot.Status.Phase)
	}
}

// TestOutsideTheWindowARotationIsRefusedUnlessIgnoredWhichIsRecorded: the fake clock
// is a Wednesday at noon UTC; the window is Mondays 02:00-03:00 in Berlin.
func TestOutsideTheWindowARotationIsRefusedUnlessIgnoredWhichIsRecorded(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	v1 := version(t, newClock(t0), ns, "app", "token", "one")
	createDeployment(t, ns, deployment("web", v1, 1))
	cfg := writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
  windows:
  - {days: [Mon], start: "02:00", end: "03:00", timeZone: Europe/Berlin}
`, ns)
	// A Wednesday a year before the real clock: a version named after a later time
	// would lie in the future, which rotor refuses.
	wed := time.Date(time.Now().Year()-1, 7, 1, 12, 0, 0, 0, time.UTC)
	for wed.Weekday() != time.Wednesday {
		wed = wed.AddDate(0, 0, 1)
	}
	before := snapshot(t, ns)
	r := run(t, newClock(wed), "two", "rotate", "app", "--env", "staging", "--config", cfg, "--from-stdin", "token", "--yes")
	monday := wed.AddDate(0, 0, 5).Add(-12 * time.Hour) // 00:00 UTC = 02:00 CEST
	if r.Code != 1 || !strings.Contains(r.Stderr, "outside environment staging's maintenance windows (Mon 02:00-03:00 Europe/Berlin") ||
		!strings.Contains(r.Stderr, "the next opens "+monday.Format(time.RFC3339)) || !strings.Contains(r.Stderr, "--ignore-window") {
		t.Fatalf("rotate outside the window: %+v", r)
	}
	assertUnchanged(t, ns, before)

	r = run(t, newClock(wed), "two", "rotate", "app", "--env", "staging", "--config", cfg, "--from-stdin", "token", "--yes", "--ignore-window", "--as", "bob", "--as-group", "system:masters")
	if r.Code != 0 {
		t.Fatalf("rotate --ignore-window: %+v", r)
	}
	rot := lastRotation(t, ns, "app")
	if iw := rot.Spec.Environment.IgnoredWindow; iw == nil || iw.By != "bob" || rot.Spec.Window != nil || rot.Status.Phase != v1alpha1.Succeeded {
		t.Fatalf("ignored window record: %+v, window %+v, phase %s", iw, rot.Spec.Window, rot.Status.Phase)
	}
}

// TestFromPreviousKeepsTheOtherKeysAndPrintsNoValue: the new version is the previous
// one with one key replaced, compared in the cluster; no value appears in any output.
func TestFromPreviousKeepsTheOtherKeysAndPrintsNoValue(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterClient(t)
	v1 := version(t, newClock(t0), ns, "app", "token", "canary-old-token-81f3", "region", "canary-region-9c2e", "cert", "canary-cert-44ab")
	createDeployment(t, ns, deployment("web", v1, 1))
	cfg := writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
`, ns)
	r := run(t, nil, "canary-new-token-d7a0", "rotate", "app", "--env", "staging", "--config", cfg, "--from-previous", "--set", "token", "--yes")
	if r.Code != 0 {
		t.Fatalf("rotate: %+v", r)
	}
	for _, canary := range []string{"canary-old-token-81f3", "canary-region-9c2e", "canary-cert-44ab", "canary-new-token-d7a0"} {
		if strings.Contains(r.Stdout+r.Stderr, canary) {
			t.Fatalf("a value was printed (%s):\n%s\n%s", canary, r.Stdout, r.Stderr)
		}
	}
	rot := lastRotation(t, ns, "app")
	got := secretData(t, c, ns, rot.Status.TargetVersion)
	want := map[string]string{"token": "canary-new-token-d7a0", "region": "canary-region-9c2e", "cert": "canary-cert-44ab"}
	if len(got) != len(want) {
		t.Fatalf("new version's data has keys %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key %s of the new version differs from what was asked", k)
		}
	}
	if old := secretData(t, c, ns, v1); old["token"] != "canary-old-token-81f3" {
		t.Fatal("the previous version changed")
	}
	hist := run(t, nil, "", "history", "app", "-n", ns, "-o", "json")
	if hist.Code != 0 || strings.Contains(hist.Stdout, "canary-") {
		t.Fatalf("history: %+v", hist)
	}
}

// TestAFailingVerificationJobRollsStagingBackAndBlocksPromotion.
func TestAFailingVerificationJobRollsStagingBackAndBlocksPromotion(t *testing.T) {
	t.Parallel()
	w := newPromoteWorld(t)
	failVerificationJobs(t, clusterenv.RESTConfig(t), w.stg)
	v1 := templateSecrets(t, w.stg, "web")[0]
	r := run(t, nil, "bad-token", "rotate", "app", "--env", "staging", "--config", w.config, "--from-previous", "--set", "token", "--yes")
	if r.Code != 1 || !strings.Contains(r.Stdout, "gate verify") || !strings.Contains(r.Stdout, "failed") {
		t.Fatalf("rotate with a failing verification: %+v", r)
	}
	rot := lastRotation(t, w.stg, "app")
	if rot.Status.Phase != v1alpha1.RolledBack || rot.Status.Failure == nil || rot.Status.Failure.Object != "gate verify" {
		t.Fatalf("staging rotation: %s %+v", rot.Status.Phase, rot.Status.Failure)
	}
	if got := templateSecrets(t, w.stg, "web"); got[0] != v1 {
		t.Fatalf("staging's web names %v after the rollback, want %s", got, v1)
	}
	jobs, err := clusterClient(t).BatchV1().Jobs(w.stg).List(context.Background(), metav1.ListOptions{LabelSelector: "rotor.dev/verify=integration-tests"})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("verification Jobs: %v %v", jobs, err)
	}
	before := snapshot(t, w.prd)
	p := run(t, newClock(finishedAt(t, rot).Add(48*time.Hour)), "x", "promote", "app", "--env", "production", "--config", w.config, "--from-stdin", "token", "--yes")
	if p.Code != 1 || !strings.Contains(p.Stderr, "did not succeed (RolledBack: gate verify") {
		t.Fatalf("promote after a failed verification: %+v", p)
	}
	assertUnchanged(t, w.prd, before)
}
