package repoint

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

var deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

func deployment(annotations map[string]any, secrets ...string) *unstructured.Unstructured {
	var envFrom []any
	for _, s := range secrets {
		envFrom = append(envFrom, map[string]any{"secretRef": map[string]any{"name": s}})
	}
	meta := map[string]any{"name": "web", "namespace": "ns"}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "app", "image": "app:1", "envFrom": envFrom}},
		}}},
	}}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name        string
		obj         *unstructured.Unstructured
		to          string
		unversioned bool
		changes     int
		previous    string
	}{
		{"a reference to an older version changes", deployment(nil, "app-20250101000000"), "app-20250102000000", false, 1, "app-20250101000000"},
		{"every reference to any version changes", deployment(nil, "app-20250101000000", "app-20241201000000"), "app-20250102000000", false, 2, "app-20250101000000"},
		{"a reference already on the target does not change", deployment(nil, "app-20250102000000"), "app-20250102000000", false, 0, ""},
		{"the unversioned Secret and other families are left alone", deployment(nil, "app", "other-20250101000000", "app-foo"), "app-20250102000000", false, 0, ""},
		{"adopting, the unversioned Secret moves to the first version, other families stay", deployment(nil, "app", "other-20250101000000", "app-foo"), "app-20250102000000", true, 1, "app"},
		{"adopting, a rollback returns versions to the unversioned Secret", deployment(nil, "app-20250102000000"), "app", true, 1, "app-20250102000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanNames(tt.obj, "app", tt.to, tt.unversioned)
			if len(p.Changes) != tt.changes || p.Previous != tt.previous {
				t.Fatalf("Plan = %+v, want %d changes from %q", p, tt.changes, tt.previous)
			}
		})
	}
}

func TestPatch(t *testing.T) {
	key := "/metadata/annotations/previous-version.rotor.dev~1app"
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		opts Options
		want []map[string]any
	}{
		{"a rollout tests and replaces the reference and records where it came from, creating the annotations",
			deployment(nil, "app-20250101000000"), Options{Annotate: true}, []map[string]any{
				{"op": "test", "path": "/spec/template/spec/containers/0/envFrom/0/secretRef/name", "value": "app-20250101000000"},
				{"op": "replace", "path": "/spec/template/spec/containers/0/envFrom/0/secretRef/name", "value": "app-20250102000000"},
				{"op": "add", "path": "/metadata/annotations", "value": map[string]any{"previous-version.rotor.dev/app": "app-20250101000000"}},
			}},
		{"existing annotations get one more key, not a new map",
			deployment(map[string]any{"team": "a"}, "app-20250101000000"), Options{Annotate: true}, []map[string]any{
				{"op": "test", "path": "/spec/template/spec/containers/0/envFrom/0/secretRef/name", "value": "app-20250101000000"},
				{"op": "replace", "path": "/spec/template/spec/containers/0/envFrom/0/secretRef/name", "value": "app-20250102000000"},
				{"op": "add", "path": key, "value": "app-20250101000000"},
			}},
		{"an automatic rollback removes an annotation the object did not have before",
			deployment(map[string]any{"previous-version.rotor.dev/app": "app-20250101000000"}, "app-20250101000000"), Options{Restore: true}, []map[string]any{
				{"op": "test", "path": "/spec/template/spec/containers/0/envFrom/0/secretRef/name", "value": "app-20250101000000"},
				{"op": "replace", "path": "/spec/template/spec/containers/0/envFrom/0/secretRef/name", "value": "app-20250102000000"},
				{"op": "remove", "path": key},
			}},
		{"an automatic rollback puts back the annotation it had",
			deployment(map[string]any{"previous-version.rotor.dev/app": "x"}, "app-20250101000000"), Options{Restore: true, Annotation: "app-20241201000000"}, []map[string]any{
				{"op": "test", "path": "/spec/template/spec/containers/0/envFrom/0/secretRef/name", "value": "app-20250101000000"},
				{"op": "replace", "path": "/spec/template/spec/containers/0/envFrom/0/secretRef/name", "value": "app-20250102000000"},
				{"op": "add", "path": key, "value": "app-20241201000000"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Plan(tt.obj, "app", "app-20250102000000")
			b, err := Patch(tt.obj, plan, "app", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("patch:\n got %s\nwant %v", b, tt.want)
			}
		})
	}
}

func TestApplyReadsOnlyWhatItMust(t *testing.T) {
	const from, to = "app-20250101000000", "app-20250102000000"
	at := func(rv, secret string) *unstructured.Unstructured {
		d := deployment(nil, secret)
		d.SetResourceVersion(rv)
		return d
	}
	stored := func(rv string) *unstructured.Unstructured { return at(rv, from) }
	tests := []struct {
		name    string
		seen    *unstructured.Unstructured
		inStore *unstructured.Unstructured
		verbs   []string
	}{
		{"without a copy of its own it reads the object, then patches it", nil, stored("7"), []string{"get", "patch"}},
		{"with the object the caller just read it patches that, without reading again", stored("7"), stored("7"), []string{"patch"}},
		{"a copy older than the object fails the patch's version test, and the object is read again", stored("6"), stored("7"), []string{"patch", "get", "patch"}},
		{"a copy that already names the target is read again: the object may not", at("7", to), stored("7"), []string{"get", "patch"}},
		{"a copy without a resourceVersion cannot be tested, so the object is read", deployment(nil, from), stored("7"), []string{"get", "patch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), tt.inStore)
			// The API server answers a JSON patch that does not apply (a failed test)
			// with 422, a generic message and the patch library's error as the cause
			// (apiserver's jsonPatcher); the fake's tracker returns that error bare.
			react := k8stesting.ObjectReaction(client.Tracker())
			client.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
				handled, obj, err := react(a)
				if err != nil {
					err = apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
				}
				return handled, obj, err
			})
			r := &Repointer{Dynamic: client}
			res, err := r.Apply(context.Background(), Target{Kind: "Deployment", Namespace: "ns", Name: "web"}, "app", to, Options{Annotate: true, Seen: tt.seen})
			if err != nil {
				t.Fatal(err)
			}
			var verbs []string
			for _, a := range client.Actions() {
				verbs = append(verbs, a.GetVerb())
			}
			if !reflect.DeepEqual(verbs, tt.verbs) {
				t.Errorf("requests = %v, want %v", verbs, tt.verbs)
			}
			if res.Unchanged() || res.Previous != from {
				t.Errorf("result = %+v, want one change from %s", res, from)
			}
			obj, err := client.Resource(deploymentsGVR).Namespace("ns").Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := Plan(obj, "app", to); !got.Unchanged() {
				t.Errorf("the stored object still names %s", got.Changes[0].From)
			}
		})
	}
}
