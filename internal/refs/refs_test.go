package refs

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/kinds"
)

func TestQueryValidationSaysWhatIsWrong(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"a name is enough", Query{Names: []string{"auth-20250723110000"}}, ""},
		{"a family is enough", Query{Family: "auth"}, ""},
		{"nothing to look for is refused", Query{}, "no Secret to look for"},
		{"an invalid name is refused", Query{Names: []string{"Bad_Name"}}, `"Bad_Name" is not a valid Secret name`},
		{"an invalid family is refused", Query{Family: "Bad_Family"}, `"Bad_Family" is not a valid family name`},
		{"an invalid namespace is refused", Query{Names: []string{"a"}, Namespace: "a.b"}, `"a.b" is not a valid namespace`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.q.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFamilyMatchesItsVersionsAndTheUnversionedSecretOnly(t *testing.T) {
	m := newMatcher(Query{Family: "auth", Names: []string{"other"}})
	tests := []struct {
		name string
		want bool
	}{
		{"auth-20250723110000", true},
		{"auth", true},
		{"other", true},
		{"auth-20250723110000-old", false},
		{"xauth-20250723110000", false},
		{"authx-20250723110000", false},
		{"auth-20251399999999", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s matches: %v", tt.name, tt.want), func(t *testing.T) {
			if got := m.match(tt.name); got != tt.want {
				t.Fatalf("match(%q) = %v", tt.name, got)
			}
		})
	}
}

func TestAManifestThatIsNotYAMLIsReportedNotSkipped(t *testing.T) {
	res, err := (&Finder{}).Find(context.Background(), Query{Names: []string{"s-1"}, Paths: []string{"testdata"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NotChecked) != 1 || res.NotChecked[0].File != "testdata/broken.yaml" || !strings.Contains(res.NotChecked[0].Reason, "not valid YAML") {
		t.Fatalf("not checked = %+v", res.NotChecked)
	}
}

func TestAMissingPathIsAnError(t *testing.T) {
	_, err := (&Finder{}).Find(context.Background(), Query{Names: []string{"s"}, Paths: []string{"testdata/none"}})
	if err == nil || !strings.Contains(err.Error(), "give an existing file or directory") {
		t.Fatalf("err = %v", err)
	}
}

// Pure role logic, on the fake clientset: which ReplicaSet is current, which is a
// rollback target, and the owner chain through it.
func TestOlderReplicaSetsAreRollbackTargetsAndPodsGetTheirChain(t *testing.T) {
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "ns", UID: "d1",
		Annotations: map[string]string{kinds.DeploymentRevisionAnnotation: "3"}}}
	owned := func(kind, name string, uid types.UID) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, APIVersion: "apps/v1", Name: name, UID: uid, Controller: ptr.To(true)}}
	}
	rs := func(name string, uid types.UID, rev string, replicas int32, secret string) runtime.Object {
		return &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: uid, OwnerReferences: owned("Deployment", "api", "d1"),
				Annotations: map[string]string{kinds.DeploymentRevisionAnnotation: rev}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				ImagePullSecrets: []corev1.LocalObjectReference{{Name: secret}}}}},
		}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api-3-x", Namespace: "ns", UID: "p1", OwnerReferences: owned("ReplicaSet", "api-3", "r3")},
		Spec: corev1.PodSpec{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "s-3"}}}}
	done := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: "ns", UID: "p2"},
		Spec:   corev1.PodSpec{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "s-3"}}},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
	c := fake.NewClientset(dep, rs("api-1", "r1", "1", 0, "s-1"), rs("api-2", "r2", "2", 1, "s-2"), rs("api-3", "r3", "3", 0, "s-3"), pod, done)
	res, err := (&Finder{Client: c}).Find(context.Background(), Query{Names: []string{"s-1", "s-2", "s-3"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.References {
		var chain []string
		for _, o := range r.Owners {
			chain = append(chain, o.Kind+"/"+o.Name)
		}
		got = append(got, fmt.Sprintf("%s %s/%s %s", r.Role, r.Object.Kind, r.Object.Name, strings.Join(chain, ",")))
	}
	want := []string{
		"live Pod/api-3-x ReplicaSet/api-3,Deployment/api",
		"live ReplicaSet/api-2 Deployment/api", // still running pods while it scales down
		"live ReplicaSet/api-3 Deployment/api", // the Deployment's current revision
		"rollback-target ReplicaSet/api-1 Deployment/api",
		"finished Pod/done ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
