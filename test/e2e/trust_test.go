package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// handMade stores a Secret named like a version, as anyone allowed to create Secrets
// could: with rotor's labels when labelled, immutable when immutable.
func handMade(t *testing.T, ns, name string, labelled, immutable bool) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"token": []byte("x")}}
	if labelled {
		v, _ := family.Parse(name)
		s.Labels = family.Labels(v)
	}
	if immutable {
		s.Immutable = &immutable
	}
	if _, err := clusterenv.Client(t).CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestLatestChoosesOnlyTrustedVersions: a newer look-alike made by hand and a
// version named in the future are listed with states that say so, never become
// "latest", and are refused as explicit targets; adopting the look-alike (after
// checks) makes it one.
func TestLatestChoosesOnlyTrustedVersions(t *testing.T) {
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	ctx := context.Background()
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, keyRefDeployment("web", v1, "token"))
	const lookAlike, future = "app-20260101000000", "app-20991231235959"
	handMade(t, ns, lookAlike, false, false)
	handMade(t, ns, future, true, true)

	r := run(t, nil, "", "versions", "app", "-n", ns)
	for _, want := range []string{v2 + "   latest", lookAlike + "   untrusted", future + "   future"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("versions lacks %q:\n%s", want, r.Stdout)
		}
	}

	before := snapshot(t, ns)
	for _, to := range []string{lookAlike, future} {
		r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", to, "--yes")
		if r.Code != 1 || !strings.Contains(r.Stderr, "nothing is rolled out to it") {
			t.Fatalf("rollout --to %s: %+v", to, r)
		}
		assertUnchanged(t, ns, before)
	}
	if r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", "latest", "--yes"); r.Code != 0 || templateSecrets(t, ns, "web")[0] != v2 {
		t.Fatalf("rollout --to latest did not choose %s: %+v", v2, r)
	}

	// Adoption: refused without a terminal or --yes, refused while mutable.
	before = snapshot(t, ns)
	if r := run(t, nil, "", "versions", "app", "-n", ns, "--adopt", lookAlike); r.Code != 1 || !strings.Contains(r.Stderr, "pass --yes") {
		t.Fatalf("adopt without --yes: %+v", r)
	}
	if r := run(t, nil, "", "versions", "app", "-n", ns, "--adopt", lookAlike, "--yes"); r.Code != 1 || !strings.Contains(r.Stderr, "not immutable") {
		t.Fatalf("adopting a mutable Secret: %+v", r)
	}
	if r := run(t, nil, "", "versions", "app", "-n", ns, "--adopt", future, "--yes"); r.Code != 0 || !strings.Contains(r.Stderr, "already") {
		t.Fatalf("adopting a labelled Secret: %+v", r)
	}
	assertUnchanged(t, ns, before)
	if _, err := c.CoreV1().Secrets(ns).Patch(ctx, lookAlike, types.MergePatchType, []byte(`{"immutable":true}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "", "versions", "app", "-n", ns, "--adopt", lookAlike, "--yes", "--as", "alice", "--as-group", "system:masters"); r.Code != 0 || !strings.Contains(r.Stdout, "adopted") {
		t.Fatalf("adopt: %+v", r)
	}
	s, err := c.CoreV1().Secrets(ns).Get(ctx, lookAlike, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Annotations["rotor.dev/adopted-by"] != "alice" || s.Annotations["rotor.dev/keys"] != "token" || s.Labels[family.LabelManagedBy] != "rotor" {
		t.Fatalf("adopted Secret's metadata: %v %v", s.Labels, s.Annotations)
	}
	if r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", "latest", "--yes"); r.Code != 0 || templateSecrets(t, ns, "web")[0] != lookAlike {
		t.Fatalf("rollout --to latest did not choose the adopted version: %+v", r)
	}
}

// TestCleanupNeverDeletesASecretRotorDidNotMake: a look-alike past every retention and
// referenced by nothing is kept, and says why.
func TestCleanupNeverDeletesASecretRotorDidNotMake(t *testing.T) {
	w := newCleanupWorld(t)
	w.versions(t, 3)
	w.lookAlike(t, w.v(0))
	_, items, r := cleanupJSON(t, w, "--retain", "0d", "--keep", "1", "--yes")
	if r.Code != 0 {
		t.Fatalf("cleanup: %+v", r)
	}
	if it := items[w.v(0)]; it.Outcome != "kept: untrusted" || it.Trust != "none" || !strings.Contains(strings.Join(it.Notes, " "), "neither created nor adopted") {
		t.Fatalf("look-alike: %+v", it)
	}
	names := secretNames(t, w.ns)
	if !names[w.v(0)] || names[w.v(1)] || names[w.v(2)] || !names[w.v(3)] {
		t.Fatalf("after cleanup: %v", names)
	}
}
