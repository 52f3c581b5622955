package repoint

import (
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

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
