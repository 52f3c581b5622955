package e2e

import (
	"context"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestConsumersAnotherToolManagesAreRefusedUnlessDriftIsAllowed: Deployments that Argo
// CD, Flux and Helm manage are reported as such by refs and status; a rollout refuses
// them, naming each owner and what to do, and changes nothing; with --allow-drift it
// re-points them and says so.
func TestConsumersAnotherToolManagesAreRefusedUnlessDriftIsAllowed(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	argo := deployment("argo", v1, 1)
	argo.Annotations = map[string]string{"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:" + ns + "/argo"}
	flux := deployment("flux", v1, 1)
	flux.Labels = map[string]string{"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
	helm := deployment("helm", v1, 1)
	helm.Labels = map[string]string{"app.kubernetes.io/managed-by": "Helm"}
	helm.Annotations = map[string]string{"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": ns}
	createDeployment(t, ns, argo)
	createDeployment(t, ns, flux)
	createDeployment(t, ns, helm)

	l, r := refsJSON(t, v1, "-n", ns)
	if r.Code != 0 {
		t.Fatalf("refs: %+v", r)
	}
	for name, want := range map[string]string{"argo": "Argo CD", "flux": "Flux", "helm": "Helm"} {
		it := findItem(l, "Deployment", name, v1)
		if it == nil || it.ManagedBy == nil || string(it.ManagedBy.Tool) != want {
			t.Fatalf("refs: Deployment/%s managed by %+v, want %s", name, it, want)
		}
	}
	s := run(t, nil, "", "status", "app", "-n", ns, "-o", "json")
	if s.Code != 0 || !strings.Contains(s.Stdout, `"managedBy": "Argo CD Application shop"`) || !strings.Contains(s.Stdout, `"managedBy": "Flux Kustomization flux-system/apps"`) {
		t.Fatalf("status does not report the owners: %+v", s)
	}

	before := snapshot(t, ns)
	r = run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--timeout", rotorTimeout(t))
	if r.Code == 0 {
		t.Fatalf("a rollout of managed consumers was not refused: %+v", r)
	}
	out := r.Stdout + r.Stderr
	for _, want := range []string{"Deployment/argo", "Argo CD Application shop", "Deployment/flux", "Flux Kustomization flux-system/apps",
		"Deployment/helm", "Helm release " + ns + "/web", "--allow-drift"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the refusal does not say %q:\n%s", want, out)
		}
	}
	assertUnchanged(t, ns, before)

	r = run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--allow-drift", "--timeout", rotorTimeout(t))
	if r.Code != 0 {
		t.Fatalf("rollout --allow-drift: %+v", r)
	}
	if !strings.Contains(r.Stdout, "re-pointed live (drift allowed)") {
		t.Fatalf("the plan does not record the drift:\n%s", r.Stdout)
	}
	for _, name := range []string{"argo", "flux", "helm"} {
		if got := templateSecrets(t, ns, name); got[0] != v2 {
			t.Fatalf("Deployment/%s names %v after --allow-drift", name, got)
		}
	}
	waitAvailable(t, c, ns, "argo")
}

// TestABlueGreenRotationOfAnAutoscaledDeploymentIsRefused: a blue-green rotation sets
// replicas step by step, which a HorizontalPodAutoscaler on the Deployment would undo;
// rotor refuses it, names the autoscaler and the way out, and changes nothing. A
// rolling rotation of the same Deployment proceeds.
func TestABlueGreenRotationOfAnAutoscaledDeploymentIsRefused(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 2))
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		MinReplicas:    ptr.To(int32(2)), MaxReplicas: 5,
	}}
	if _, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(context.Background(), hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ns)
	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--strategy", "bluegreen", "--steps", "50,100", "--pause", "0s")
	if r.Code == 0 {
		t.Fatalf("a blue-green rotation of an autoscaled Deployment was not refused: %+v", r)
	}
	out := r.Stdout + r.Stderr
	for _, want := range []string{"HorizontalPodAutoscaler " + ns + "/web", "Deployment/web", "rolling strategy"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the refusal does not say %q:\n%s", want, out)
		}
	}
	assertUnchanged(t, ns, before)

	r = run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--timeout", rotorTimeout(t))
	if r.Code != 0 {
		t.Fatalf("a rolling rotation of the autoscaled Deployment: %+v", r)
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v2 {
		t.Fatalf("web names %v", got)
	}
}
