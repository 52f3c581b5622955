package cleanup

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/rotor-project/rotor/internal/refs"
)

// inNS sets the namespace of the Secret a reference names.
func inNS(r refs.Reference, ns string) refs.Reference { r.SecretNamespace = ns; return r }

func TestReferencesTo(t *testing.T) {
	it := &Item{Namespace: "pay", Name: "app-20250101000000", ExternalSecret: &Owner{Kind: "ExternalSecret", Name: "app-20250101000000", UID: "es-uid"}}
	ref := func(kind, ns, name, secret, file string, uid string) refs.Reference {
		return refs.Reference{Object: refs.ObjectRef{Kind: kind, Namespace: ns, Name: name, UID: typesUID(uid)}, Secret: secret, File: file, Role: refs.RoleLive}
	}
	tests := []struct {
		name string
		in   refs.Reference
		want bool
	}{
		{"a reference from the version's namespace counts", ref("Deployment", "pay", "api", it.Name, "", "d"), true},
		{"the same name in another namespace is another Secret", ref("Deployment", "other", "api", it.Name, "", "d"), false},
		{"another Secret does not count", ref("Deployment", "pay", "api", "app-20250202000000", "", "d"), false},
		{"a manifest without a namespace counts", ref("Deployment", "", "api", it.Name, "a.yaml", ""), true},
		{"a manifest of the version's namespace counts", ref("Deployment", "pay", "api", it.Name, "a.yaml", ""), true},
		{"a manifest of another namespace does not", ref("Deployment", "other", "api", it.Name, "a.yaml", ""), false},
		{"the ExternalSecret that created it is not a reference", ref("ExternalSecret", "pay", it.Name, it.Name, "", "es-uid"), false},
		{"another ExternalSecret writing it is", ref("ExternalSecret", "pay", "foreign", it.Name, "", "other-uid"), true},
		{"the creator's manifest in a repository is", ref("ExternalSecret", "pay", it.Name, it.Name, "es.yaml", ""), true},
		{"a PersistentVolume naming a Secret of the version's namespace counts", inNS(ref("PersistentVolume", "", "pv", it.Name, "", "p"), "pay"), true},
		{"a PersistentVolume naming a Secret of another namespace does not", inNS(ref("PersistentVolume", "", "pv", it.Name, "", "p"), "other"), false},
		{"a ClusterAnalysisTemplate's argument resolves in any namespace, so it counts", ref("ClusterAnalysisTemplate", "", "cat", it.Name, "", "c"), true},
		{"a Gateway of another namespace naming a Secret of this one counts", inNS(ref("Gateway", "edge", "gw", it.Name, "", "g"), "pay"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := referencesTo(it, []refs.Reference{tt.in})
			if (len(got) == 1) != tt.want {
				t.Fatalf("referencesTo = %+v; want counted=%v", got, tt.want)
			}
		})
	}
}

func TestConvertNamesTheTopOwner(t *testing.T) {
	r := refs.Reference{
		Object: refs.ObjectRef{Kind: "Pod", Namespace: "pay", Name: "report-1-abc"},
		Owners: []refs.ObjectRef{{Kind: "Job", Name: "report-1"}, {Kind: "CronJob", Name: "report"}},
		Role:   refs.RoleFinished, Revision: "", Path: "spec.containers[name=app].envFrom[0].secretRef",
	}
	got := convert(r)
	if got.Owner == nil || fmt.Sprint(*got.Owner) != "{CronJob report}" || got.Role != "finished" || got.Kind != "Pod" {
		t.Fatalf("convert = %+v", got)
	}
}

func typesUID(s string) types.UID { return types.UID(s) }
