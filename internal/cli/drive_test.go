package cli

import (
	"reflect"
	"testing"

	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
)

func TestBatches(t *testing.T) {
	item := func(ns, name, to string) rollout.Item {
		return rollout.Item{Consumer: rollout.Consumer{Target: repoint.Target{Kind: "Deployment", Namespace: ns, Name: name}}, To: to}
	}
	tests := []struct {
		name  string
		items []rollout.Item
		want  [][]string
	}{
		{"consumers of one namespace and version make one batch",
			[]rollout.Item{item("a", "x", "v2"), item("a", "y", "v2")}, [][]string{{"a/x", "a/y"}}},
		{"each namespace is a batch of its own, in namespace order",
			[]rollout.Item{item("b", "x", "v2"), item("a", "y", "v2")}, [][]string{{"a/y"}, {"b/x"}}},
		{"a cluster-scoped consumer belongs to no batch, so no rotation reaches into every namespace",
			[]rollout.Item{item("", "pv", "v2"), item("a", "y", "v2")}, [][]string{{"a/y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := batches(&rollout.Plan{Family: "app", Items: tt.items})
			var names [][]string
			for _, b := range got {
				var n []string
				for _, it := range b {
					n = append(n, it.Consumer.Namespace+"/"+it.Consumer.Name)
				}
				names = append(names, n)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Fatalf("batches = %v, want %v", names, tt.want)
			}
		})
	}
}
