package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

var stageGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "stages"}

// crashPodsUsing adds a kwok Stage that makes every new pod in ns whose containers take
// envFrom a Secret whose name matches the regular expression crash-loop, as a real
// kubelet would report a container that exits at start. It is removed at cleanup.
func crashPodsUsing(t *testing.T, ns, secretNameRegexp string) {
	t.Helper()
	crashPodsUsingIn(t, clusterenv.RESTConfig(t), ns, secretNameRegexp)
}

// crashPodsUsingIn is crashPodsUsing in the cluster of cfg (a private one).
func crashPodsUsingIn(t *testing.T, cfg *rest.Config, ns, secretNameRegexp string) {
	t.Helper()
	name := "crash-" + ns
	doc := fmt.Sprintf(`
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: %s
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  weight: 10
  selector:
    matchExpressions:
    - key: .metadata.namespace
      operator: In
      values: [%q]
    - key: '[.spec.containers[].envFrom[]?.secretRef.name] | any(test(%q))'
      operator: In
      values: ["true"]
    - key: .metadata.deletionTimestamp
      operator: DoesNotExist
    - key: .status.phase
      operator: In
      values: [Pending]
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
      conditions:
      - type: Ready
        status: "False"
        lastTransitionTime: {{ $now | Quote }}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name }}
        image: {{ .image }}
        ready: false
        restartCount: 5
        state:
          waiting:
            reason: CrashLoopBackOff
            message: back-off restarting failed container
      {{ end }}
`, name, ns, secretNameRegexp)
	addStage(t, cfg, name, doc)
}

// addStage creates a kwok Stage from its YAML in the cluster of cfg, deleted at cleanup.
func addStage(t *testing.T, cfg *rest.Config, name, doc string) {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(stageGVR).Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating stage: %v", err)
	}
	t.Cleanup(func() { _ = dyn.Resource(stageGVR).Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// deployment returns a Deployment whose one container takes envFrom the named Secret.
func deployment(name, secret string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:1",
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}},
				}}},
			},
		},
	}
}

func TestLocalClusterRunsDeploymentsAndStagesCanCrashPods(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	ctx := context.Background()
	crashPodsUsing(t, ns, "-broken$")
	for _, d := range []*appsv1.Deployment{deployment("good", "app-20250723110000", 2), deployment("bad", "app-broken", 2)} {
		if _, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var reasons map[string][]string
	err := clusterenv.Until(waitfor.Context(t), clusterenv.RESTConfig(t), ns, func(ctx context.Context) (bool, error) {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		reasons = map[string][]string{}
		for _, p := range pods.Items {
			app := p.Labels["app"]
			state := "pending"
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					state = "ready"
				}
			}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Waiting != nil {
					state = cs.State.Waiting.Reason
				}
			}
			reasons[app] = append(reasons[app], state)
		}
		return strings.Join(reasons["good"], ",") == "ready,ready" && strings.Join(reasons["bad"], ",") == "CrashLoopBackOff,CrashLoopBackOff", nil
	}, clusterenv.Pods)
	if err != nil {
		t.Fatalf("pods did not reach the expected states: %v (last seen %v)", err, reasons)
	}
	// The controllers did their part too: the good Deployment reports its replicas
	// available (the status is written after the pods turn Ready).
	waitAvailable(t, c, ns, "good")
}
