package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// promoteWorld is staging and production as two namespaces, each with a first version
// of app and a Deployment using it; staging verifies with a Job and soaks a day.
type promoteWorld struct {
	stg, prd string
	config   string
}

func newPromoteWorld(t *testing.T) *promoteWorld {
	t.Helper()
	w := &promoteWorld{stg: clusterenv.Namespace(t), prd: clusterenv.Namespace(t)}
	c := clusterClient(t)
	clk := newClock(t0)
	for _, ns := range []string{w.stg, w.prd} {
		v1 := version(t, clk, ns, "app", "token", "first", "region", "eu")
		createDeployment(t, ns, deployment("web", v1, 2))
		if ns == w.stg {
			verifyTemplate(t, c, ns, v1)
		}
	}
	w.config = w.configWith(t)
	return w
}

// configWith writes the world's rotor.yaml (staging soaks 24 h and runs its verification
// Job; production requires staging) with more environments, each given as name and
// namespace, and returns its path.
func (w *promoteWorld) configWith(t *testing.T, nameNamespace ...string) string {
	t.Helper()
	var more strings.Builder
	for i := 0; i+1 < len(nameNamespace); i += 2 {
		fmt.Fprintf(&more, "- name: %s\n  namespaces: [%s]\n", nameNamespace[i], nameNamespace[i+1])
	}
	return writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
  soak: 24h
  verify: {job: integration-tests}
- name: production
  namespaces: [%s]
  requires: [staging]
%sfamilies:
- name: app
  requiredKeys: [token]
`, w.stg, w.prd, more.String())
}

// TestPromoteIsRefusedDuringTheSoakAndProceedsAfterIt: production cannot go first, nor
// before staging soaked; then it can, once, linked to the staging rotation. Rotations
// run on the real clock; the promotions on fake clocks set after it (a rotation's
// deadline is a real one), so no test waits for a soak.
func TestPromoteIsRefusedDuringTheSoakAndProceedsAfterIt(t *testing.T) {
	t.Parallel()
	w := newPromoteWorld(t)
	before := snapshot(t, w.prd)

	first := run(t, nil, "new-staging-token", "promote", "app", "--env", "production", "--config", w.config, "--from-previous", "--set", "token", "--yes")
	if first.Code != 1 || !strings.Contains(first.Stderr, "staging has no rotation of app in namespace "+w.stg+": every change goes through staging first") {
		t.Fatalf("promote before any staging rotation: %+v", first)
	}
	direct := run(t, nil, "x", "rotate", "app", "--env", "production", "--config", w.config, "--from-stdin", "token", "--yes")
	if direct.Code != 1 || !strings.Contains(direct.Stderr, "environment production requires staging") || !strings.Contains(direct.Stderr, "rotor promote app --env production") {
		t.Fatalf("rotate into production: %+v", direct)
	}
	assertUnchanged(t, w.prd, before)

	// Staging rotates three days ago, by a fake clock, so the promotions a day later
	// still name their versions in the past (rotor refuses a version named after a time
	// ahead of the API server's).
	r := run(t, newClock(time.Now().Add(-72*time.Hour).Truncate(time.Second)), "new-staging-token", "rotate", "app", "--env", "staging", "--config", w.config, "--from-previous", "--set", "token", "--yes")
	if r.Code != 0 {
		t.Fatalf("rotate staging: %+v", r)
	}
	staged := lastRotation(t, w.stg, "app")
	if staged.Status.Phase != v1alpha1.Succeeded || !hasAll(checklist(staged), "created", "rollback documented", "window", "started", "all pods on the new version", "verified", "finished", "old version eligible for cleanup") {
		t.Fatalf("staging rotation: %s %v", staged.Status.Phase, checklist(staged))
	}
	done := finishedAt(t, staged)

	early := run(t, newClock(done.Add(time.Hour)), "new-production-token", "promote", "app", "--env", "production", "--config", w.config, "--from-previous", "--set", "token", "--yes")
	soakEnd := done.Add(24 * time.Hour).UTC().Format(time.RFC3339)
	if early.Code != 1 || !strings.Contains(early.Stderr, "its soak of 1d ends "+soakEnd) || !strings.Contains(early.Stderr, "the soak ends "+soakEnd+": promote then") ||
		!strings.Contains(early.Stderr, "nothing was changed") {
		t.Fatalf("promote during the soak: %+v", early)
	}
	assertUnchanged(t, w.prd, before)

	late := run(t, newClock(done.Add(25*time.Hour)), "new-production-token", "promote", "app", "--env", "production", "--config", w.config, "--from-previous", "--set", "token", "--yes")
	if late.Code != 0 {
		t.Fatalf("promote after the soak: %+v", late)
	}
	promoted := lastRotation(t, w.prd, "app")
	env := promoted.Spec.Environment
	if promoted.Status.Phase != v1alpha1.Succeeded || env == nil || env.Name != "production" || len(env.PromotedFrom) != 1 ||
		env.PromotedFrom[0].Name != staged.Name || env.PromotedFrom[0].Run != staged.Spec.Run || env.BreakGlass != nil {
		t.Fatalf("production rotation: %s %+v", promoted.Status.Phase, env)
	}
	if !hasAll(checklist(promoted), "staging deployed", "staging verified", "soak complete", "started", "all pods on the new version") {
		t.Fatalf("production checklist: %v", checklist(promoted))
	}
	if got := templateSecrets(t, w.prd, "web"); len(got) != 1 || got[0] != promoted.Status.TargetVersion {
		t.Fatalf("production's web names %v, want %s", got, promoted.Status.TargetVersion)
	}

	again := run(t, newClock(done.Add(26*time.Hour)), "x", "promote", "app", "--env", "production", "--config", w.config, "--from-previous", "--set", "token", "--yes")
	if again.Code != 1 || !strings.Contains(again.Stderr, "it was promoted already") {
		t.Fatalf("promoting the same staging rotation twice: %+v", again)
	}
}
