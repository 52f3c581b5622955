package rollout

import (
	"context"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/rotor-project/rotor/internal/repoint"
)

// fixedConsumers finds the same consumers in any namespace.
type fixedConsumers []Consumer

func (f fixedConsumers) Consumers(context.Context, string, string) ([]Consumer, error) {
	return f, nil
}

func deployment(name, secret string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "ns", "uid": "uid-" + name},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
			"name": "app", "image": "app:1", "envFrom": []any{map[string]any{"secretRef": map[string]any{"name": secret}}}}}}}},
	}}
}

func TestAPlanOfOneNamespaceResolvesAndReadsItsTargetOnce(t *testing.T) {
	const from, to = "app-20260101000000", "app-20260201000000"
	tests := []struct {
		name            string
		req             Request
		latest, targets int32 // calls of Latest and Target
	}{
		{"the latest version is resolved once for every consumer of the namespace, and read once",
			Request{Namespace: "ns", Family: "app", To: Latest, KeepObjects: true}, 1, 1},
		{"a named version is read once",
			Request{Namespace: "ns", Family: "app", To: to, KeepObjects: true}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := []string{"api", "web", "worker"}
			var objs []runtime.Object
			var cs fixedConsumers
			for _, n := range names {
				objs = append(objs, deployment(n, from))
				cs = append(cs, Consumer{Target: repoint.Target{Kind: "Deployment", Namespace: "ns", Name: n}})
			}
			var latest, targets atomic.Int32
			pl := &Planner{Finder: cs, Repointer: &repoint.Repointer{Dynamic: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), objs...)},
				Latest: func(context.Context, string, string) (string, error) { latest.Add(1); return to, nil },
				Target: func(_ context.Context, _, _, name string) (TargetInfo, bool, error) {
					targets.Add(1)
					return TargetInfo{}, name == to, nil
				}}
			p, err := pl.Plan(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if latest.Load() != tt.latest || targets.Load() != tt.targets {
				t.Errorf("Latest called %d times and Target %d, want %d and %d", latest.Load(), targets.Load(), tt.latest, tt.targets)
			}
			if len(p.Items) != len(names) {
				t.Fatalf("plan has %d items, want %d", len(p.Items), len(names))
			}
			for _, it := range p.Items {
				if it.To != to || it.Object == nil || it.Object.GetName() != it.Consumer.Name {
					t.Errorf("item %s: to %s, object %v; want to %s and the consumer as read", it.Consumer.Target, it.To, it.Object, to)
				}
			}
		})
	}
}
