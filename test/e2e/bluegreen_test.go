package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// replicaLog records every distinct (blue, green) pair of spec.replicas it sees, from a
// watch on the namespace's Deployments.
type replicaLog struct {
	mu    sync.Mutex
	pairs []string
	blue  int32
	green int32
}

func watchReplicas(t *testing.T, ns, blue string) (*replicaLog, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := clusterenv.Client(t).AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := &replicaLog{green: -1}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok {
				continue
			}
			l.mu.Lock()
			switch {
			case d.Name == blue:
				l.blue = *d.Spec.Replicas
			case d.Name == rollout.GreenName(blue) && (ev.Type == watch.Deleted || d.DeletionTimestamp != nil):
				l.green = -1
			case d.Name == rollout.GreenName(blue):
				l.green = *d.Spec.Replicas
			}
			pair := fmt.Sprintf("blue=%d green=%d", l.blue, l.green)
			if len(l.pairs) == 0 || l.pairs[len(l.pairs)-1] != pair {
				l.pairs = append(l.pairs, pair)
			}
			l.mu.Unlock()
		}
	}()
	return l, func() { cancel(); w.Stop(); <-done }
}

func (l *replicaLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.pairs...)
}

func containsInOrder(have []string, want ...string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestBlueGreenScalesGreenUpInStepsThenMovesTheOriginal(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 10))
	log, stop := watchReplicas(t, ns, "web")

	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--strategy", "bluegreen", "--steps", "10,50,100", "--pause", "500ms")
	stop()
	if r.Code != 0 {
		t.Fatalf("bluegreen: %+v", r)
	}
	// Green holds 10 % then 50 % of the replicas, blue the rest; at 100 % blue is back
	// to full size on the new version and green is gone.
	if seen := log.seen(); !containsInOrder(seen, "blue=9 green=1", "blue=5 green=5", "blue=10 green=5", "blue=10 green=-1") {
		t.Fatalf("replica counts seen: %v", seen)
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v2 {
		t.Fatalf("web names %v, want %s", got, v2)
	}
	if _, err := c.AppsV1().Deployments(ns).Get(context.Background(), rollout.GreenName("web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("green copy still exists: %v", err)
	}
	waitAvailable(t, c, ns, "web")
}

func TestBlueGreenFailureAtAStepRestoresBlueAndDeletesGreen(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	crashPodsUsing(t, ns, v2+"$")
	createDeployment(t, ns, deployment("web", v1, 4))
	log, stop := watchReplicas(t, ns, "web")

	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--strategy", "bluegreen", "--steps", "25,100", "--pause", "1s", "--timeout", rotorTimeout(t))
	stop()
	if r.Code == 0 || !strings.Contains(r.Stdout, "CrashLoopBackOff") {
		t.Fatalf("bluegreen of a crashing version: %+v", r)
	}
	if seen := log.seen(); !containsInOrder(seen, "blue=3 green=1", "blue=4 green=1", "blue=4 green=-1") {
		t.Fatalf("replica counts seen: %v", seen)
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v1 {
		t.Fatalf("blue names %v after the abort, want %s", got, v1)
	}
	waitAvailable(t, c, ns, "web")
	eventually(t, ns, "green deleted", func() bool {
		_, err := c.AppsV1().Deployments(ns).Get(context.Background(), rollout.GreenName("web"), metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

func TestBlueGreenRefusesStatefulSets(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	labels := map[string]string{"app": "db"}
	_, err := c.AppsV1().StatefulSets(ns).Create(context.Background(), &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "db", Image: "db:1", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: v1}}}}}},
			}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ns)
	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--strategy", "bluegreen")
	if r.Code == 0 || !strings.Contains(r.Stderr, "bluegreen works on Deployments only") || !strings.Contains(r.Stderr, "StatefulSet/db") {
		t.Fatalf("bluegreen on a StatefulSet: %+v", r)
	}
	assertUnchanged(t, ns, before)
}
