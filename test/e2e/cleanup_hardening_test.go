package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestCleanupKeepZeroKeepsTheNewestAndWhatARotationMovesTo: --keep 0 and --retain 0d
// still keep the newest version and every version an unfinished rotation names.
func TestCleanupKeepZeroKeepsTheNewestAndWhatARotationMovesTo(t *testing.T) {
	w := newCleanupWorld(t)
	w.versions(t, 4)
	// A rotation whose run was killed half way: its journal says it is progressing.
	started := metav1.NewTime(w.clock.Now().Add(-time.Minute))
	if _, err := (&journal.Store{Client: clusterenv.Client(t), Clock: w.clock}).Create(context.Background(), &v1alpha1.SecretRotation{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns},
		Spec:       v1alpha1.RotationSpec{Family: "app", Target: w.v(2), Action: v1alpha1.ActionRollout},
		Status: v1alpha1.RotationStatus{Phase: v1alpha1.Progressing, TargetVersion: w.v(2), Started: &started,
			Consumers: []v1alpha1.ConsumerStatus{{Kind: "Deployment", Name: "api", From: w.v(1), To: w.v(2)}}},
	}); err != nil {
		t.Fatal(err)
	}
	_, items, r := cleanupJSON(t, w, "--keep", "0", "--retain", "0d", "--yes")
	if r.Code != 0 {
		t.Fatalf("cleanup: %+v", r)
	}
	want := map[string]string{w.v(4): "kept: newest", w.v(3): "deleted", w.v(2): "kept: rotation in progress", w.v(1): "kept: rotation in progress"}
	for name, outcome := range want {
		if items[name].Outcome != outcome {
			t.Errorf("%s: outcome %q, want %q", name, items[name].Outcome, outcome)
		}
	}
	names := secretNames(t, w.ns)
	if !names[w.v(4)] || names[w.v(3)] || !names[w.v(2)] || !names[w.v(1)] {
		t.Fatalf("after cleanup: %v", names)
	}
}

// TestCleanupHookFailureIsADeletionWithAFailedHook: when only --on-delete fails, the
// version is reported deleted (it is), the hook as failed, with what to do; the
// command itself, which may carry a token, is never repeated.
func TestCleanupHookFailureIsADeletionWithAFailedHook(t *testing.T) {
	w := newCleanupWorld(t)
	w.versions(t, 3)
	const token = "CANARY-hook-token-5c2e"
	hook := "echo ran >/dev/null; exit 3 # " + token
	rep, items, r := cleanupJSON(t, w, "--keep", "1", "--retain", "0d", "--yes", "--on-delete", hook)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1 (the hook's work is undone): %+v", r.Code, r)
	}
	for _, name := range []string{w.v(1), w.v(2)} {
		it := items[name]
		if it.Outcome != "deleted" || it.Hook != "failed" || !strings.Contains(strings.Join(it.Notes, " "), "exit status 3") {
			t.Fatalf("%s: %+v", name, it)
		}
	}
	if !strings.Contains(r.Stderr, "deleted as planned, but --on-delete failed for 2 deleted version(s)") || !strings.Contains(r.Stderr, "The Secrets ARE gone") {
		t.Fatalf("stderr does not say the deletion happened:\n%s", r.Stderr)
	}
	if strings.Contains(r.Stdout+r.Stderr, token) {
		t.Fatalf("the --on-delete command was repeated:\n%s\n%s", r.Stdout, r.Stderr)
	}
	if names := secretNames(t, w.ns); names[w.v(1)] || names[w.v(2)] || !names[w.v(3)] {
		t.Fatalf("after cleanup: %v", names)
	}
	if rep.Items[0].Hook != "" {
		t.Fatalf("a kept version has a hook result: %+v", rep.Items[0])
	}
}

// TestChangingCommandsNeedYesWithoutATerminal: rollout, rollback and cleanup refuse to
// apply when they cannot ask, and say how to go ahead; nothing changes.
func TestChangingCommandsNeedYesWithoutATerminal(t *testing.T) {
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, keyRefDeployment("web", v1, "token"))
	before := snapshot(t, ns)
	for _, args := range [][]string{
		{"rollout", "app", "--to", v2},
		{"rollback", "app", "--to", v1},
		{"cleanup", "app", "--retain", "0d", "--keep", "1"},
		{"versions", "app", "--adopt", v1},
	} {
		r := run(t, nil, "", append(args, "-n", ns)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "there is no terminal to confirm on") || !strings.Contains(r.Stderr, "pass --yes to go ahead, or --dry-run") {
			t.Fatalf("%v: %+v", args, r)
		}
		assertUnchanged(t, ns, before)
	}
}
