package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rotor-project/rotor/internal/record"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestCleanupKeepZeroKeepsTheNewestAndWhatARotationMovesTo: --keep 0 and --retain 0d
// still keep the newest version and every version an unfinished rotation names.
func TestCleanupKeepZeroKeepsTheNewestAndWhatARotationMovesTo(t *testing.T) {
	w := newCleanupWorld(t)
	w.versions(t, 4)
	started := w.clock.Now().Add(-time.Minute)
	if err := (&record.Store{Client: clusterenv.Client(t)}).Create(context.Background(), &record.Record{
		Family: "app", Namespace: w.ns, Action: record.Rollout, To: w.v(2), Phase: record.Progressing, Started: started,
		Consumers: []record.Consumer{{Kind: "Deployment", Name: "api", From: w.v(1), To: w.v(2)}},
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
