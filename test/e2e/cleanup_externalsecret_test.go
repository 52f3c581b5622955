package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/internal/cli"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

var (
	cleanupCRDGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	cleanupESGVR  = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}
)

// externalSecretCRD is the ExternalSecret kind with an open schema: enough for the API
// server to serve the objects ESO would read. The operator itself is not run; the test
// creates the target Secret with the ownerReference ESO gives it.
const externalSecretCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: externalsecrets.external-secrets.io
spec:
  group: external-secrets.io
  scope: Namespaced
  names: {plural: externalsecrets, singular: externalsecret, kind: ExternalSecret, listKind: ExternalSecretList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

func installExternalSecretCRD(t *testing.T) dynamic.Interface {
	t.Helper()
	cfg := clusterenv.RESTConfig(t)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(externalSecretCRD), &obj); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := dyn.Resource(cleanupCRDGVR).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitfor.Poll(t, "the ExternalSecret kind to be served", func(ctx context.Context) (bool, error) {
		l, err := disc.ServerResourcesForGroupVersion("external-secrets.io/v1")
		return err == nil && len(l.APIResources) > 0, nil
	})
	return dyn
}

// TestCleanupDeletesTheExternalSecretThatCreatedAVersion: the ExternalSecret that
// created a version is not a reference that keeps it; it is deleted with it. An
// ExternalSecret that targets a version it does not own keeps that version.
func TestCleanupDeletesTheExternalSecretThatCreatedAVersion(t *testing.T) {
	t.Parallel()
	// The real operator runs on the shared cluster whenever an ESO test does, and
	// reconciles these ExternalSecrets too: run it always, and let it settle first.
	clusterenv.RequireAddon(t, "external-secrets")
	dyn := installExternalSecretCRD(t)
	w := newCleanupWorld(t)
	ctx := context.Background()
	mkES := func(name, target string) *unstructured.Unstructured {
		es := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{
				"refreshInterval": "0s",
				"target":          map[string]any{"name": target, "creationPolicy": "Owner", "immutable": true},
				"data":            []any{map[string]any{"secretKey": "token", "remoteRef": map[string]any{"key": "app", "version": name}}},
			},
		}}
		got, err := dyn.Resource(cleanupESGVR).Namespace(w.ns).Create(ctx, es, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	owned := mkES(w.v(1), w.v(1))
	w.secret(t, w.v(1), metav1.OwnerReference{APIVersion: "external-secrets.io/v1", Kind: "ExternalSecret", Name: owned.GetName(), UID: owned.GetUID(), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)})
	w.secret(t, w.v(2))
	mkES("foreign", w.v(2)) // targets v2 without owning it: it would write it again
	w.versions2(t, 3, 4)
	clusterenv.WaitFor(t, w.ns, "ESO to have reconciled both ExternalSecrets", func(ctx context.Context) (bool, error) {
		l, err := dyn.Resource(cleanupESGVR).Namespace(w.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, es := range l.Items {
			if c, _, _ := unstructured.NestedSlice(es.Object, "status", "conditions"); len(c) == 0 {
				return false, nil
			}
		}
		return len(l.Items) == 2, nil
	}, cleanupESGVR)

	// The operator may still write the Secret it owns while cleanup runs (under load it
	// reconciles late); cleanup then keeps the version as "changed since scan" and says
	// to run it again, which is what a user does, and what this test does.
	var by map[string]cli.CleanupReportItem
	waitfor.Poll(t, "a cleanup that did not meet the operator's write", func(context.Context) (bool, error) {
		var r result
		_, by, r = cleanupJSON(t, w, "--yes")
		if r.Code != 0 {
			return false, fmt.Errorf("cleanup: %+v", r)
		}
		return by[w.v(1)].Outcome != "kept: changed since scan", nil
	})
	if it := by[w.v(1)]; it.Outcome != "deleted" || it.ExternalSecret == nil || it.ExternalSecret.Name != w.v(1) || !strings.Contains(strings.Join(it.Notes, " "), "deleted ExternalSecret") {
		t.Fatalf("owned version: %+v", it)
	}
	if it := by[w.v(2)]; it.Outcome != "kept: referenced" || !hasRef(it, "ExternalSecret", "foreign") {
		t.Fatalf("version targeted by a foreign ExternalSecret: %+v", it)
	}
	if _, err := dyn.Resource(cleanupESGVR).Namespace(w.ns).Get(ctx, w.v(1), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the ExternalSecret that created the version still exists: %v", err)
	}
	if _, err := dyn.Resource(cleanupESGVR).Namespace(w.ns).Get(ctx, "foreign", metav1.GetOptions{}); err != nil {
		t.Fatalf("the foreign ExternalSecret was touched: %v", err)
	}
	if left := secretNames(t, w.ns); left[w.v(1)] || !left[w.v(2)] {
		t.Fatalf("secrets left: %v", left)
	}
}
