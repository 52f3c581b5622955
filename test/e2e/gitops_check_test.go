package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// gitopsManifests are the files of a small GitOps directory: comments, flow style,
// quoting and an anchor, as people write them.
var gitopsManifests = map[string]string{
	"api.yaml": `# The API reads the family two ways.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: app
        image: registry.example/app:1
        env:
        - name: TOKEN
          valueFrom: {secretKeyRef: {name: &v "FAMILY-20250715100000", key: token}}
        envFrom:
        - secretRef: {name: *v}   # the same version
`,
	"sa.yaml": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: puller
imagePullSecrets:
- name: 'FAMILY-20250715100000'
`,
}

// applyManifests creates or replaces the objects of the files in ns (server-side apply).
func applyManifests(t *testing.T, ns string, dir string, files ...string) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(clusterenv.RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	gvr := map[string]schema.GroupVersionResource{
		"Deployment":     {Group: "apps", Version: "v1", Resource: "deployments"},
		"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{Object: doc}
			body, err := obj.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			_, err = dyn.Resource(gvr[obj.GetKind()]).Namespace(ns).Patch(context.Background(), obj.GetName(), types.ApplyPatchType, body,
				metav1.PatchOptions{FieldManager: "gitops-test", Force: ptrTo(true)})
			if err != nil {
				t.Fatalf("applying %s: %v", f, err)
			}
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestGitOpsCheckComparesManifestsWithTheCluster(t *testing.T) {
	ns := clusterenv.Namespace(t)
	fam := refsFamily(t)
	v1, v2 := fam+"-20250715100000", fam+"-20250723110000"
	dir := t.TempDir()
	for name, text := range gitopsManifests {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(text, "FAMILY", fam)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	applyManifests(t, ns, dir, "api.yaml", "sa.yaml")
	// Settled first, so the before/after snapshots see no status updates in between.
	waitAvailable(t, clusterenv.Client(t), ns, "api")
	placeholders := map[string]string{"NAMESPACE": ns, "FAMILY": fam, "DIR": dir}
	check := func() result { return run(t, nil, "", "gitops", "check", fam, "--path", dir, "-n", ns) }

	before := snapshot(t, ns)
	if r := check(); r.Code != 0 || !strings.Contains(r.Stdout, "agree: 3 reference(s) to "+fam+", in 1 namespace(s)") {
		t.Fatalf("manifests as applied must agree: %+v", r)
	}

	// A rotation through git: the manifests move to v2, the cluster has not synced yet.
	if r := run(t, nil, "", "gitops", "set", fam, "--to", v2, "--path", dir); r.Code != 0 || !strings.Contains(r.Stdout, "+          valueFrom: {secretKeyRef: {name: &v \""+v2+"\", key: token}}") {
		t.Fatalf("set: %+v", r)
	}
	r := check()
	if r.Code != 1 || !strings.Contains(r.Stderr, "disagree in 3 place(s)") {
		t.Fatalf("check after set: %+v", r)
	}
	assertGolden(t, "gitops-check-unsynced", r.Stdout, placeholders)
	assertUnchanged(t, ns, before)

	// The GitOps engine applies the commit: they agree again.
	applyManifests(t, ns, dir, "api.yaml", "sa.yaml")
	if r := check(); r.Code != 0 {
		t.Fatalf("after the sync: %+v", r)
	}

	// A manifest the cluster never received, and drift made by hand.
	extra := strings.ReplaceAll(strings.ReplaceAll(gitopsManifests["sa.yaml"], "puller", "never-applied"), "FAMILY-20250715100000", v2)
	if err := os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	drift := strings.ReplaceAll(strings.ReplaceAll(gitopsManifests["sa.yaml"], "FAMILY-20250715100000", v1), "FAMILY", fam)
	driftDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(driftDir, "sa.yaml"), []byte(drift), 0o644); err != nil {
		t.Fatal(err)
	}
	applyManifests(t, ns, driftDir, "sa.yaml")
	r = check()
	if r.Code != 1 {
		t.Fatalf("check with drift: %+v", r)
	}
	assertGolden(t, "gitops-check-drift", r.Stdout, placeholders)
}
