package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/internal/cli"
	"github.com/rotor-project/rotor/test/clusterenv"
)

var gatewayGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// installGatewayCRD serves the Gateway API's Gateway kind (an open schema: enough for
// the API server to store what a Gateway controller would read).
func installGatewayCRD(t *testing.T) {
	t.Helper()
	dyn := dynamicClient(t)
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "gateways.gateway.networking.k8s.io",
			// A *.k8s.io group needs the approval the Gateway API's own CRDs carry.
			"annotations": map[string]any{"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/3328"}},
		"spec": map[string]any{
			"group": "gateway.networking.k8s.io", "scope": "Namespaced",
			"names": map[string]any{"plural": "gateways", "kind": "Gateway", "shortNames": []any{"gtw"}},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	if _, err := dyn.Resource(crdGVR).Create(context.Background(), crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	waitFor(t, "the Gateway kind served", func() bool {
		_, err := dyn.Resource(gatewayGVR).Namespace("default").List(context.Background(), metav1.ListOptions{Limit: 1})
		return err == nil
	})
}

func gateway(ns, name, cert string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"gatewayClassName": "example", "listeners": []any{
			map[string]any{"name": "http", "port": int64(80), "protocol": "HTTP"},
			map[string]any{"name": "https", "port": int64(443), "protocol": "HTTPS", "tls": map[string]any{
				"certificateRefs": []any{map[string]any{"kind": "Secret", "name": cert}}}},
		}},
	}}
}

// csiPod is a bare Pod with a CSI volume whose nodePublishSecretRef names secret.
func csiPod(name, secret string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
			VolumeMounts: []corev1.VolumeMount{{Name: "store", MountPath: "/mnt/secrets"}}}},
		Volumes: []corev1.Volume{{Name: "store", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
			Driver: "secrets-store.csi.k8s.io", NodePublishSecretRef: &corev1.LocalObjectReference{Name: secret}}}}},
	}}
}

// csiPV is a PersistentVolume whose CSI source's nodePublishSecretRef names ns/secret;
// it is deleted when the test ends (it outlives the namespace).
func csiPV(t *testing.T, name, ns, secret string) {
	t.Helper()
	c := clusterenv.Client(t)
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
		Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
			Driver: "disk.csi.example", VolumeHandle: name,
			NodePublishSecretRef: &corev1.SecretReference{Name: secret, Namespace: ns}}},
	}}
	if _, err := c.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().PersistentVolumes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// csiStorageClass names ns/secret as its provisioner secret; deleted when the test ends.
func csiStorageClass(t *testing.T, name, ns, secret string) {
	t.Helper()
	c := clusterenv.Client(t)
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "disk.csi.example", Parameters: map[string]string{
		"csi.storage.k8s.io/provisioner-secret-name": secret, "csi.storage.k8s.io/provisioner-secret-namespace": ns}}
	if _, err := c.StorageV1().StorageClasses().Create(context.Background(), sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.StorageV1().StorageClasses().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// authIngress is an Ingress whose nginx basic-auth annotation names value (a Secret, or
// namespace/Secret).
func authIngress(name, value string) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name,
		Annotations: map[string]string{"nginx.ingress.kubernetes.io/auth-secret": value}},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}
}

var (
	helmFixtureOnce sync.Once
	helmFixtureBin  string
	helmFixtureErr  error
)

// storeHelmRelease stores revision of release in ns with Helm's own storage driver
// (test/helmfixture), its manifest a Deployment naming secret, and a rendered Secret
// and values holding canary values.
func storeHelmRelease(t *testing.T, ns, release string, revision int, status, secret string) {
	t.Helper()
	helmFixtureOnce.Do(func() {
		root, err := clusterenv.RepoRoot()
		if err != nil {
			helmFixtureErr = err
			return
		}
		dir, err := os.MkdirTemp("", "helmfixture-")
		if err != nil {
			helmFixtureErr = err
			return
		}
		helmFixtureBin = filepath.Join(dir, "helmfixture")
		build := exec.Command("go", "build", "-o", helmFixtureBin, ".")
		build.Dir = filepath.Join(root, "test", "helmfixture")
		if out, err := build.CombinedOutput(); err != nil {
			helmFixtureErr = fmt.Errorf("building test/helmfixture: %w: %s", err, out)
		}
	})
	if helmFixtureErr != nil {
		t.Fatal(helmFixtureErr)
	}
	dir := t.TempDir()
	manifest := fmt.Sprintf(`---
# Source: %[1]s/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata: {name: %[1]s-rendered}
stringData: {token: canary-helm-manifest-%[1]s}
---
# Source: %[1]s/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  template:
    spec:
      containers:
      - name: app
        envFrom:
        - secretRef: {name: %[2]s}
`, release, secret)
	mustWrite(t, filepath.Join(dir, "manifest.yaml"), manifest)
	mustWrite(t, filepath.Join(dir, "values.yaml"), "password: canary-helm-values-"+release+"\n")
	cmd := exec.Command(helmFixtureBin, "--kubeconfig", clusterenv.Kubeconfig(t), "--namespace", ns, "--release", release,
		"--revision", fmt.Sprint(revision), "--status", status, "--manifest", filepath.Join(dir, "manifest.yaml"),
		"--values", filepath.Join(dir, "values.yaml"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("storing Helm release %s revision %d: %v: %s", release, revision, err, out)
	}
}

// refsJSON runs refs -o json and returns the document.
func refsJSON(t *testing.T, args ...string) (cli.ReferenceList, result) {
	t.Helper()
	r := run(t, nil, "", append([]string{"refs", "-o", "json"}, args...)...)
	var l cli.ReferenceList
	if err := json.Unmarshal([]byte(r.Stdout), &l); err != nil {
		t.Fatalf("refs -o json is not JSON (%v): %+v", err, r)
	}
	return l, r
}

func findItem(l cli.ReferenceList, kind, name, secret string) *cli.ReferenceItem {
	for i := range l.Items {
		it := &l.Items[i]
		if it.Object.Kind == kind && it.Object.Name == name && it.Secret == secret {
			return it
		}
	}
	return nil
}

// TestEveryNewReferenceStyleIsFoundAndKeepsItsVersion: a CSI volume on a Pod, a
// PersistentVolume's CSI secret, a StorageClass's secret parameter, a Gateway's
// certificateRef, an ingress annotation and a Helm release revision each name one old
// version: refs finds each at its exact place, and cleanup keeps each version with the
// reason, while an old version nothing names is deleted.
func TestEveryNewReferenceStyleIsFoundAndKeepsItsVersion(t *testing.T) {
	t.Parallel()
	installGatewayCRD(t)
	w := newCleanupWorld(t)
	c := clusterenv.Client(t)
	ctx := context.Background()
	for i := 0; i <= 8; i++ {
		w.secret(t, w.v(i))
	}
	if _, err := c.CoreV1().Pods(w.ns).Create(ctx, csiPod("csi", w.v(1)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	csiPV(t, "pv-"+w.ns, w.ns, w.v(2))
	csiStorageClass(t, "sc-"+w.ns, w.ns, w.v(3))
	if _, err := dynamicClient(t).Resource(gatewayGVR).Namespace(w.ns).Create(ctx, gateway(w.ns, "gw", w.v(4)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetworkingV1().Ingresses(w.ns).Create(ctx, authIngress("web", w.v(5)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	storeHelmRelease(t, w.ns, "shop", 3, "superseded", w.v(6))

	l, r := refsJSON(t, "--family", "app", "-n", w.ns)
	if r.Code != 0 {
		t.Fatalf("refs: %+v", r)
	}
	want := []struct{ kind, name, secret, path, pointer, style string }{
		{"Pod", "csi", w.v(1), "spec.volumes[name=store].csi.nodePublishSecretRef", "/spec/volumes/0/csi/nodePublishSecretRef/name", "volume.csi.nodePublishSecretRef"},
		{"PersistentVolume", "pv-" + w.ns, w.v(2), "spec.csi.nodePublishSecretRef", "/spec/csi/nodePublishSecretRef/name", "persistentVolume.secretRef"},
		{"StorageClass", "sc-" + w.ns, w.v(3), "parameters[csi.storage.k8s.io/provisioner-secret-name]", "/parameters/csi.storage.k8s.io~1provisioner-secret-name", "storageClass.parameter"},
		{"Gateway", "gw", w.v(4), "spec.listeners[name=https].tls.certificateRefs[0]", "/spec/listeners/1/tls/certificateRefs/0/name", "gateway.certificateRef"},
		{"Ingress", "web", w.v(5), "metadata.annotations[nginx.ingress.kubernetes.io/auth-secret]", "/metadata/annotations/nginx.ingress.kubernetes.io~1auth-secret", "annotation"},
		{"Secret", "sh.helm.release.v1.shop.v3", w.v(6), "manifest[Deployment/shop].spec.template.spec.containers[name=app].envFrom[0].secretRef", "", "envFrom.secretRef"},
	}
	for _, x := range want {
		it := findItem(l, x.kind, x.name, x.secret)
		if it == nil {
			t.Fatalf("refs did not find %s/%s naming %s; found %+v", x.kind, x.name, x.secret, l.Items)
		}
		if it.Path != x.path || it.Pointer != x.pointer || it.Style != x.style || it.SecretNamespace != w.ns {
			t.Fatalf("%s/%s: got path %q pointer %q style %q secretNamespace %q", x.kind, x.name, it.Path, it.Pointer, it.Style, it.SecretNamespace)
		}
	}
	if it := findItem(l, "Secret", "sh.helm.release.v1.shop.v3", w.v(6)); it.Role != "rollback-target" || it.Revision != "3" ||
		len(it.Owners) != 1 || it.Owners[0].Kind != "Release" || it.Owners[0].Name != "shop" {
		t.Fatalf("the Helm release reference: %+v", it)
	}
	if strings.Contains(r.Stdout+r.Stderr, "canary") {
		t.Fatalf("refs printed release content: %s", r.Stdout)
	}

	_, by, cr := cleanupJSON(t, w, "--yes")
	if cr.Code != 0 {
		t.Fatalf("cleanup: %+v", cr)
	}
	for i, kind := range map[int]string{1: "Pod", 2: "PersistentVolume", 3: "StorageClass", 4: "Gateway", 5: "Ingress"} {
		if it := by[w.v(i)]; it.Outcome != "kept: referenced" || len(it.References) != 1 || it.References[0].Kind != kind {
			t.Fatalf("version %d (named by a %s): %+v", i, kind, it)
		}
	}
	if it := by[w.v(6)]; it.Outcome != "kept: rollback target" || len(it.RollbackTargets) != 1 ||
		it.RollbackTargets[0].Owner == nil || it.RollbackTargets[0].Owner.Name != "shop" || it.RollbackTargets[0].Revision != "3" {
		t.Fatalf("version 6 (a Helm release revision): %+v", it)
	}
	if it := by[w.v(0)]; it.Outcome != "deleted" {
		t.Fatalf("version 0, named by nothing: %+v", it)
	}
	if strings.Contains(cr.Stdout+cr.Stderr, "canary") {
		t.Fatalf("cleanup printed release content")
	}
	left := secretNames(t, w.ns)
	for i := 1; i <= 8; i++ {
		if !left[w.v(i)] {
			t.Fatalf("version %d was deleted", i)
		}
	}
}

// TestAHelmRollbackTargetGoesOnlyWithAllowBreakingUndo: the version only a Helm release
// revision names is deleted with --allow-breaking-undo, which reports the revision it
// breaks.
func TestAHelmRollbackTargetGoesOnlyWithAllowBreakingUndo(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	for i := 1; i <= 4; i++ {
		w.secret(t, w.v(i))
	}
	storeHelmRelease(t, w.ns, "api", 1, "superseded", w.v(1))
	_, by, r := cleanupJSON(t, w, "--yes", "--allow-breaking-undo")
	if r.Code != 0 {
		t.Fatalf("cleanup: %+v", r)
	}
	if it := by[w.v(1)]; it.Outcome != "deleted" || len(it.RollbackTargets) != 1 || it.RollbackTargets[0].Revision != "1" {
		t.Fatalf("version 1: %+v", it)
	}
	if secretNames(t, w.ns)[w.v(1)] {
		t.Fatal("version 1 still exists")
	}
}

// TestRolloutRepointsGatewaysAndAnnotationsAndReportsImmutableKinds: a Gateway's
// certificateRef and an annotation ("namespace/name" form) are re-pointed at their
// exact fields; a PersistentVolume and a bare Pod with a CSI volume are reported as
// immutable, with what to do, and left as they are.
func TestRolloutRepointsGatewaysAndAnnotationsAndReportsImmutableKinds(t *testing.T) {
	t.Parallel()
	installGatewayCRD(t)
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	dyn := dynamicClient(t)
	ctx := context.Background()
	v1, v2 := twoVersions(t, ns, "app")
	if _, err := dyn.Resource(gatewayGVR).Namespace(ns).Create(ctx, gateway(ns, "gw", v1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetworkingV1().Ingresses(ns).Create(ctx, authIngress("web", ns+"/"+v1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, csiPod("csi", v1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	csiPV(t, "pv-"+ns, ns, v1)

	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--timeout", rotorTimeout(t))
	if r.Code != 0 {
		t.Fatalf("rollout: %+v", r)
	}
	for _, want := range []string{"PersistentVolume/pv-" + ns, "volume source is immutable", "Pod/csi", "recreate it"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("the plan does not say %q:\n%s", want, r.Stdout)
		}
	}
	gw, err := dyn.Resource(gatewayGVR).Namespace(ns).Get(ctx, "gw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	refs, _, _ := unstructured.NestedSlice(listeners[1].(map[string]any), "tls", "certificateRefs")
	if name := refs[0].(map[string]any)["name"]; name != v2 {
		t.Fatalf("the Gateway's certificateRef names %v, want %s", name, v2)
	}
	ing, err := c.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ing.Annotations["nginx.ingress.kubernetes.io/auth-secret"]; got != ns+"/"+v2 {
		t.Fatalf("the annotation is %q, want %q", got, ns+"/"+v2)
	}
	pv, err := c.CoreV1().PersistentVolumes().Get(ctx, "pv-"+ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Spec.CSI.NodePublishSecretRef.Name != v1 {
		t.Fatalf("the PersistentVolume was changed: %+v", pv.Spec.CSI.NodePublishSecretRef)
	}
	// The API server itself refuses the change rotor does not attempt.
	patch := fmt.Appendf(nil, `[{"op":"replace","path":"/spec/csi/nodePublishSecretRef/name","value":%q}]`, v2)
	if _, err := c.CoreV1().PersistentVolumes().Patch(ctx, pv.Name, "application/json-patch+json", patch, metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsInvalid(err) {
		t.Fatalf("a PersistentVolume's CSI secret is mutable after all (rotor reports it immutable): %v", err)
	}
}

var referenceGrantGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1beta1", Resource: "referencegrants"}

// TestAGatewayOfAnotherNamespaceKeepsAVersionItsReferenceGrantAllows: a Gateway may
// name a Secret of another namespace when a ReferenceGrant there allows it; a search
// and a cleanup of that namespace alone read the granted namespace's Gateways too.
func TestAGatewayOfAnotherNamespaceKeepsAVersionItsReferenceGrantAllows(t *testing.T) {
	t.Parallel()
	installGatewayCRD(t)
	dyn := dynamicClient(t)
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "referencegrants.gateway.networking.k8s.io",
			"annotations": map[string]any{"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/3328"}},
		"spec": map[string]any{
			"group": "gateway.networking.k8s.io", "scope": "Namespaced",
			"names": map[string]any{"plural": "referencegrants", "kind": "ReferenceGrant"},
			"versions": []any{map[string]any{"name": "v1beta1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	ctx := context.Background()
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	waitFor(t, "the ReferenceGrant kind served", func() bool {
		_, err := dyn.Resource(referenceGrantGVR).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil
	})
	w := newCleanupWorld(t)
	edge := clusterenv.Namespace(t)
	for i := 1; i <= 4; i++ {
		w.secret(t, w.v(i))
	}
	gw := gateway(edge, "edge", w.v(1))
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	_ = unstructured.SetNestedSlice(listeners[1].(map[string]any), []any{map[string]any{"kind": "Secret", "name": w.v(1), "namespace": w.ns}}, "tls", "certificateRefs")
	_ = unstructured.SetNestedSlice(gw.Object, listeners, "spec", "listeners")
	if _, err := dyn.Resource(gatewayGVR).Namespace(edge).Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	grant := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
		"metadata": map[string]any{"name": "from-edge"},
		"spec": map[string]any{
			"from": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": edge}},
			"to":   []any{map[string]any{"group": "", "kind": "Secret"}},
		},
	}}
	if _, err := dyn.Resource(referenceGrantGVR).Namespace(w.ns).Create(ctx, grant, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l, r := refsJSON(t, w.v(1), "-n", w.ns)
	if it := findItem(l, "Gateway", "edge", w.v(1)); r.Code != 0 || it == nil || it.Object.Namespace != edge || it.SecretNamespace != w.ns {
		t.Fatalf("refs -n %s did not find the granted Gateway of %s: %+v", w.ns, edge, r)
	}
	_, by, cr := cleanupJSON(t, w, "--yes")
	if it := by[w.v(1)]; cr.Code != 0 || it.Outcome != "kept: referenced" || it.References[0].Kind != "Gateway" {
		t.Fatalf("version 1, named by a Gateway of %s: %+v (%+v)", edge, it, cr)
	}
}
