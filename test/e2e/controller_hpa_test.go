package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// A blue-green SecretRotation whose Deployment an autoscaler scales is refused by the
// controller as the CLI refuses it: the rotation fails at planning, naming the
// autoscaler, and nothing is re-pointed.
func TestControllerRefusesBlueGreenForAnAutoscaledDeployment(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	clk := newClock(t0)
	v1 := createVersion(t, clk, ns, "app", "one")
	createDeployment(t, ns, deployment("web", v1, 2))
	minReplicas := int32(2)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &minReplicas, MaxReplicas: 4,
		},
	}
	if _, err := clusterenv.Client(t).AutoscalingV2().HorizontalPodAutoscalers(ns).Create(context.Background(), hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	name := applySecretRotation(t, ns, `
apiVersion: rotor.dev/v1alpha1
kind: SecretRotation
metadata: {name: app}
spec:
  family: app
  target: latest
  strategy: {type: bluegreen, steps: [50, 100], pause: 1s}
`)
	p := startController(t, ns)
	waitRotation(t, p, ns, name, "Succeeded on "+v1, succeededOn(v1))

	clk.Step(time.Hour)
	v2 := createVersion(t, clk, ns, "app", "two")
	rot := waitRotation(t, p, ns, name, "failed on "+v2, func(r *v1alpha1.SecretRotation) bool {
		return r.Status.TargetVersion == v2 && r.Status.Phase.Final()
	})
	if rot.Status.Phase != v1alpha1.Failed || !strings.Contains(rot.Status.Message, "HorizontalPodAutoscaler "+ns+"/web scales Deployment/web") {
		t.Fatalf("phase %s, message %q: want Failed naming the autoscaler", rot.Status.Phase, rot.Status.Message)
	}
	if got := templateSecrets(t, ns, "web"); len(got) != 1 || got[0] != v1 {
		t.Fatalf("web names %v, want %s (nothing re-pointed)", got, v1)
	}
}
