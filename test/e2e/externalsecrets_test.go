package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// esoWorld is a namespace with a `fake` SecretStore holding two versions of the key
// app/token, whose values are canaries that must never appear in rotor's output.
type esoWorld struct {
	ns            string
	first, second string // the values of versions v1 and v2 of app/token
	clock         *steppingClock
	outputs       []string
}

func newESOWorld(t *testing.T) *esoWorld {
	t.Helper()
	clusterenv.RequireAddon(t, "external-secrets")
	w := &esoWorld{ns: clusterenv.Namespace(t), first: canary(t), second: canary(t),
		clock: newClock(time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second))}
	dyn := dynamicClient(t)
	applyYAML(t, dyn, secretStoresGVR, w.ns, fmt.Sprintf(`
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: fake}
spec:
  provider:
    fake:
      data:
      - {key: app/token, value: %q, version: v1}
      - {key: app/token, value: %q, version: v2}
`, w.first, w.second))
	clusterenv.WaitFor(t, w.ns, "the fake SecretStore Ready", func(ctx context.Context) (bool, error) {
		s, err := dyn.Resource(secretStoresGVR).Namespace(w.ns).Get(ctx, "fake", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(s.Object, "status", "conditions")
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "Ready" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	}, secretStoresGVR)
	return w
}

func canary(t *testing.T) string {
	t.Helper()
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "canary-" + hex.EncodeToString(b[:])
}

// rotor runs rotor in the world's namespace and keeps its output for the canary check.
func (w *esoWorld) rotor(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, w.clock, "", append(args, "-n", w.ns)...)
	w.outputs = append(w.outputs, r.Stdout, r.Stderr)
	return r
}

// create makes a version from remote version rv of app/token, a day after the last.
func (w *esoWorld) create(t *testing.T, rv string) string {
	t.Helper()
	r := w.rotor(t, "create", "app", "--external", "--store", "fake", "--remote-key", "app/token", "--secret-key", "token", "--remote-version", rv)
	if r.Code != 0 {
		t.Fatalf("create --external --remote-version %s: %+v", rv, r)
	}
	w.clock.Step(24 * time.Hour)
	return strings.TrimSpace(r.Stdout)
}

// externalSecrets are the names of the ExternalSecrets in the namespace.
func (w *esoWorld) externalSecrets(t *testing.T) []string {
	t.Helper()
	l, err := dynamicClient(t).Resource(externalSecretGVR).Namespace(w.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range l.Items {
		out = append(out, it.GetName())
	}
	sort.Strings(out)
	return out
}

// assertNoCanary fails if a value of the store appears in rotor's output or in the
// rotation journals and ExternalSecrets of the namespace.
func (w *esoWorld) assertNoCanary(t *testing.T) {
	t.Helper()
	places := map[string]string{"rotor's output": strings.Join(w.outputs, "\n")}
	cms, err := clusterenv.Client(t).CoreV1().ConfigMaps(w.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cms)
	places["ConfigMaps (journals)"] = string(b)
	es, err := dynamicClient(t).Resource(externalSecretGVR).Namespace(w.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(es)
	places["ExternalSecrets"] = string(b)
	for where, text := range places {
		for _, v := range []string{w.first, w.second} {
			if strings.Contains(text, v) {
				t.Fatalf("a value of the store appears in %s", where)
			}
		}
	}
}

// TestCreateExternalMakesAPinnedImmutableVersionThroughESO: the real operator syncs
// the ExternalSecret rotor creates; the Secret is the version, immutable, owned by its
// ExternalSecret, labelled as a version, holding the pinned remote version's value.
func TestCreateExternalMakesAPinnedImmutableVersionThroughESO(t *testing.T) {
	t.Parallel()
	w := newESOWorld(t)
	c := clusterenv.Client(t)
	v1 := w.create(t, "v1")
	v2 := w.create(t, "v2")
	for name, want := range map[string]string{v1: w.first, v2: w.second} {
		s, err := c.CoreV1().Secrets(w.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the version %s: %v", name, err)
		}
		if got := string(s.Data["token"]); got != want {
			t.Errorf("%s holds the wrong remote version's value", name)
		}
		if s.Immutable == nil || !*s.Immutable {
			t.Errorf("%s is not immutable", name)
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "ExternalSecret" || s.OwnerReferences[0].Name != name {
			t.Errorf("%s is owned by %+v, want its ExternalSecret", name, s.OwnerReferences)
		}
		v, _ := family.ParseIn("app", name)
		for k, val := range family.Labels(v) {
			if s.Labels[k] != val {
				t.Errorf("%s: label %s=%q, want %q", name, k, s.Labels[k], val)
			}
		}
	}
	es, err := dynamicClient(t).Resource(externalSecretGVR).Namespace(w.ns).Get(context.Background(), v2, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ri, _, _ := unstructured.NestedString(es.Object, "spec", "refreshInterval"); ri != "0" {
		t.Errorf("refreshInterval %q", ri)
	}
	r := w.rotor(t, "versions", "app", "-o", "json")
	if r.Code != 0 || !strings.Contains(r.Stdout, v1) || !strings.Contains(r.Stdout, v2) {
		t.Fatalf("versions: %+v", r)
	}
	w.assertNoCanary(t)
}

// TestCreateExternalOfAnUnknownRemoteVersionSaysWhyAndLeavesNothing: ESO cannot sync;
// rotor reports it in plain words, deletes its ExternalSecret, and the namespace is
// as it was. A missing store is refused before anything is created.
func TestCreateExternalOfAnUnknownRemoteVersionSaysWhyAndLeavesNothing(t *testing.T) {
	t.Parallel()
	w := newESOWorld(t)
	before := snapshot(t, w.ns)

	r := w.rotor(t, "create", "app", "--external", "--store", "fake", "--remote-key", "app/token", "--remote-version", "v9")
	if r.Code != 1 {
		t.Fatalf("an unknown remote version was accepted: %+v", r)
	}
	for _, want := range []string{`the store has no key "app/token" at version "v9"`, "could not get secret data from provider", "nothing is left", "--remote-version (remote key #1)"} {
		if !strings.Contains(r.Stderr, want) {
			t.Fatalf("the error lacks %q:\n%s", want, r.Stderr)
		}
	}
	assertUnchanged(t, w.ns, before)
	if es := w.externalSecrets(t); len(es) != 0 {
		t.Fatalf("ExternalSecrets left: %v", es)
	}

	r = w.rotor(t, "create", "app", "--external", "--store", "vault", "--remote-key", "app/token", "--remote-version", "v1")
	if r.Code != 1 || !strings.Contains(r.Stderr, `SecretStore "vault" in namespace "`+w.ns+`": it does not exist`) {
		t.Fatalf("a missing store: %+v", r)
	}
	assertUnchanged(t, w.ns, before)
	if es := w.externalSecrets(t); len(es) != 0 {
		t.Fatalf("ExternalSecrets left: %v", es)
	}
	w.assertNoCanary(t)
}

// TestVersionsFromESOGoThroughRolloutRollbackAndCleanup: versions ESO made are versions
// like any other: a rollout moves a Deployment to one, a rollback returns it, and
// cleanup deletes an old one together with its ExternalSecret.
func TestVersionsFromESOGoThroughRolloutRollbackAndCleanup(t *testing.T) {
	t.Parallel()
	w := newESOWorld(t)
	v1 := w.create(t, "v1")
	v2 := w.create(t, "v2")
	createDeployment(t, w.ns, deployment("web", v1, 2))

	if r := w.rotor(t, "rollout", "app", "--to", v2, "--yes", "--timeout", rotorTimeout(t)); r.Code != 0 || !strings.Contains(r.Stdout, "rollout succeeded") {
		t.Fatalf("rollout: %+v", r)
	}
	if got := templateSecrets(t, w.ns, "web"); len(got) != 1 || got[0] != v2 {
		t.Fatalf("web names %v after the rollout", got)
	}
	if r := w.rotor(t, "rollback", "app", "--yes", "--timeout", rotorTimeout(t)); r.Code != 0 {
		t.Fatalf("rollback: %+v", r)
	}
	if got := templateSecrets(t, w.ns, "web"); len(got) != 1 || got[0] != v1 {
		t.Fatalf("web names %v after the rollback", got)
	}
	if r := w.rotor(t, "rollout", "app", "--to", v2, "--yes", "--timeout", rotorTimeout(t)); r.Code != 0 {
		t.Fatalf("the second rollout: %+v", r)
	}
	waitAvailable(t, clusterenv.Client(t), w.ns, "web")

	// Two months on, v1 is past its retention; only web's old ReplicaSet names it.
	w.clock.Step(60 * 24 * time.Hour)
	r := w.rotor(t, "cleanup", "app", "--keep", "1", "--allow-breaking-undo", "--yes", "-o", "json")
	if r.Code != 0 {
		t.Fatalf("cleanup: %+v", r)
	}
	if !strings.Contains(r.Stdout, `"externalSecret"`) {
		t.Fatalf("the report does not name the ExternalSecret of the deleted version:\n%s", r.Stdout)
	}
	clusterenv.WaitFor(t, w.ns, "v1 and its ExternalSecret gone, v2 kept", func(ctx context.Context) (bool, error) {
		_, err := dynamicClient(t).Resource(externalSecretGVR).Namespace(w.ns).Get(ctx, v1, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, nil
		}
		names := secretNames(t, w.ns)
		if !names[v2] {
			return false, fmt.Errorf("v2 (%s), which web names, was deleted", v2)
		}
		return !names[v1], nil
	}, clusterenv.Secrets, externalSecretGVR)
	if es := w.externalSecrets(t); len(es) != 1 || es[0] != v2 {
		t.Fatalf("ExternalSecrets left: %v, want only %s", es, v2)
	}
	w.assertNoCanary(t)
}
