package rollout

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rotor-project/rotor/internal/refs"
)

func TestGreenShare(t *testing.T) {
	tests := []struct {
		name   string
		total  int32
		weight int
		want   int32
	}{
		{"ten percent of ten is one", 10, 10, 1},
		{"ten percent of four rounds up to one", 4, 10, 1},
		{"half of five rounds up to three", 5, 50, 3},
		{"a hundred percent is everything", 7, 100, 7},
		{"a small share of one replica is still one green pod", 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := GreenShare(tt.total, tt.weight); got != tt.want {
				t.Fatalf("GreenShare(%d, %d) = %d, want %d", tt.total, tt.weight, got, tt.want)
			}
		})
	}
}

func TestValidateSteps(t *testing.T) {
	tests := []struct {
		name    string
		steps   []int
		wantErr string
	}{
		{"increasing steps ending at 100 are valid", []int{10, 50, 100}, ""},
		{"a single step of 100 is valid", []int{100}, ""},
		{"no steps are refused", nil, "empty"},
		{"decreasing steps are refused", []int{50, 10, 100}, "greater than the one before"},
		{"a step over 100 is refused", []int{50, 150}, "at most 100"},
		{"steps not ending at 100 are refused", []int{10, 50}, "must end at 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSteps(tt.steps)
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("ValidateSteps(%v) = %v, want %q", tt.steps, err, tt.wantErr)
			}
		})
	}
}

func TestGreenNameFitsAName(t *testing.T) {
	long := strings.Repeat("a", 80)
	if got := GreenName("web"); got != "web-rotor-green" {
		t.Fatalf("GreenName(web) = %q", got)
	}
	if got := GreenName(long); len(got) > 63 || !strings.HasSuffix(got, "-rotor-green") || got == GreenName(long+"b") {
		t.Fatalf("GreenName of a long name = %q", got)
	}
}

func TestConsumersOf(t *testing.T) {
	obj := func(kind, name string) refs.ObjectRef { return refs.ObjectRef{Kind: kind, Namespace: "ns", Name: name} }
	describe := func(cs []Consumer) []string {
		var out []string
		for _, c := range cs {
			s := c.Kind + "/" + c.Name
			if c.Immutable {
				s += " immutable"
			}
			if c.Judged != nil {
				s += " judged by " + c.Judged.String()
			}
			out = append(out, s)
		}
		return out
	}
	tests := []struct {
		name string
		ref  refs.Reference
		want []string
	}{
		{"a Deployment's pod is its Deployment", refs.Reference{Object: obj("Pod", "web-1"), Owners: []refs.ObjectRef{obj("ReplicaSet", "web-abc"), obj("Deployment", "web")}}, []string{"Deployment/web"}},
		{"a StatefulSet's pod is its StatefulSet", refs.Reference{Object: obj("Pod", "db-0"), Owners: []refs.ObjectRef{obj("StatefulSet", "db")}}, []string{"StatefulSet/db"}},
		{"a CronJob's running pod is its running Job and the CronJob", refs.Reference{Object: obj("Pod", "r-1"), Owners: []refs.ObjectRef{obj("Job", "r-123"), obj("CronJob", "r")}}, []string{"Job/r-123 immutable", "CronJob/r"}},
		{"a pod nobody owns cannot be re-pointed", refs.Reference{Object: obj("Pod", "lonely")}, []string{"Pod/lonely immutable"}},
		{"a Rollout's pod is its Rollout", refs.Reference{Object: obj("Pod", "ro-1"), Owners: []refs.ObjectRef{obj("ReplicaSet", "ro-abc"), obj("Rollout", "ro")}}, []string{"Rollout/ro"}},
		{"a Deployment a Rollout takes its template from is re-pointed and judged by the Rollout",
			refs.Reference{Object: obj("Deployment", "tmpl"), Owners: []refs.ObjectRef{obj("Rollout", "ro")}}, []string{"Deployment/tmpl judged by Rollout/ro"}},
		{"a StorageClass's parameters are immutable", refs.Reference{Object: refs.ObjectRef{Kind: "StorageClass", Name: "fast"}}, []string{"StorageClass/fast immutable"}},
		{"a Gateway is its own consumer", refs.Reference{Object: obj("Gateway", "gw")}, []string{"Gateway/gw"}},
		{"an old ControllerRevision is history, not a consumer", refs.Reference{Object: obj("ControllerRevision", "db-1"), Owners: []refs.ObjectRef{obj("StatefulSet", "db")}}, nil},
		{"a live ReplicaSet is found through its Deployment", refs.Reference{Object: obj("ReplicaSet", "web-abc"), Owners: []refs.ObjectRef{obj("Deployment", "web")}}, nil},
		{"a ServiceAccount is its own consumer", refs.Reference{Object: obj("ServiceAccount", "puller")}, []string{"ServiceAccount/puller"}},
		{"an ExternalSecret produces the Secret; it does not consume it", refs.Reference{Object: obj("ExternalSecret", "es")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describe(consumersOf(tt.ref)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("consumersOf = %v, want %v", got, tt.want)
			}
		})
	}
}
