package rotation

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

// pod is pod name of app, naming secret, crash-looping or not.
func pod(name, app, secret string, crashing bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}}}}}}
	if crashing {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
	}
	return p
}

func TestALookListsTheNamespacesPodsOnceForSeveralRollingConsumers(t *testing.T) {
	consumers := func(names ...string) []v1alpha1.ConsumerStatus {
		var out []v1alpha1.ConsumerStatus
		for _, n := range names {
			out = append(out, v1alpha1.ConsumerStatus{Kind: "Deployment", Name: n, Rolls: true, From: v1, To: v2})
		}
		return out
	}
	tests := []struct {
		name      string
		consumers []v1alpha1.ConsumerStatus
		forward   bool
		crowded   bool     // the namespace has more pods than a look lists at once
		lists     []string // label selectors of the pod lists, in order
	}{
		{"a look at three rolling consumers lists the namespace's pods once", consumers("api", "web", "worker"), true, false, []string{""}},
		{"a look at one lists its pods by its selector", consumers("web"), true, false, []string{"app=web"}},
		{"a look in a namespace of more pods than it lists at once lists each consumer's by its selector", consumers("api", "web", "worker"), true, true,
			[]string{"", "app=api", "app=web", "app=worker"}},
		{"a lister for a rollback lists by selector", consumers("api", "web"), false, false, []string{"app=api", "app=web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := kubefake.NewClientset(
				pod("web-1", "web", v2, true), pod("web-0", "web", v1, false),
				pod("api-1", "api", v2, false), pod("worker-1", "worker", v1, true))
			if tt.crowded {
				client.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
					if a.(k8stesting.ListActionImpl).ListOptions.Limit == 0 {
						return false, nil, nil
					}
					return true, &corev1.PodList{ListMeta: metav1.ListMeta{Continue: "more"}}, nil
				})
			}
			e := &Engine{Client: client}
			rot := rolling(v1alpha1.Progressing, func(r *v1alpha1.SecretRotation) { r.Status.Consumers = tt.consumers })
			pods := e.podsFor(rot, tt.forward)
			want := map[string]string{
				"api":    "",
				"web":    "pod web-1 container app: CrashLoopBackOff",
				"worker": "", // crash-looping on the version it leaves, not the target
			}
			for _, c := range tt.consumers {
				got, err := pods.problem(context.Background(), labels.SelectorFromSet(labels.Set{"app": c.Name}), v2)
				if err != nil {
					t.Fatal(err)
				}
				if got != want[c.Name] {
					t.Errorf("%s: problem %q, want %q", c.Name, got, want[c.Name])
				}
			}
			var lists []string
			for _, a := range client.Actions() {
				if a.GetVerb() == "list" && a.GetResource().Resource == "pods" {
					lists = append(lists, a.(k8stesting.ListAction).GetListRestrictions().Labels.String())
				}
			}
			if len(lists) != len(tt.lists) {
				t.Fatalf("pods listed with selectors %q, want %q", lists, tt.lists)
			}
			for i := range lists {
				if lists[i] != tt.lists[i] {
					t.Errorf("pods listed with selectors %q, want %q", lists, tt.lists)
				}
			}
		})
	}
}
