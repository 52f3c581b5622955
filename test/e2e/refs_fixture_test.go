package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// refsFamily is a family name of the test's own, so that references other tests leave
// in the shared cluster never match.
func refsFamily(t *testing.T) string {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "rf" + hex.EncodeToString(b[:])
}

// must fails the test when the call it wraps returned an error: must(t)(c.Create(…)).
func must(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func podTemplate(app string, spec corev1.PodSpec) corev1.PodTemplateSpec {
	if len(spec.Containers) == 0 {
		spec.Containers = []corev1.Container{{Name: "app", Image: "example.invalid/app"}}
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}}, Spec: spec}
}

func secretKeyEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

func envFromSecret(secret string, optional bool) corev1.EnvFromSource {
	return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Optional: ptr.To(optional)}}
}

func createSecret(t *testing.T, c kubernetes.Interface, ns, name string) {
	t.Helper()
	must(t)(c.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"token": []byte("not-a-real-token")}}, metav1.CreateOptions{}))
}

// refsSimpleFixture creates objects whose names are all fixed (no generated names), so
// their table is a golden file: a suspended CronJob, a bare Pod, a ServiceAccount and an
// Ingress naming cur, and a Pod naming the missing Secret gone.
func refsSimpleFixture(t *testing.T, ns, cur, gone string) {
	t.Helper()
	c := clusterenv.Client(t)
	ctx := context.Background()
	createSecret(t, c, ns, cur)
	must(t)(c.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: ptr.To(true), JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: podTemplate("nightly", corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				ImagePullSecrets: []corev1.LocalObjectReference{{Name: cur}}})}}},
	}, metav1.CreateOptions{}))
	must(t)(c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "debug"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "shell", Image: "example.invalid/shell",
			Env: []corev1.EnvVar{secretKeyEnv("TOKEN", cur, "token"), secretKeyEnv("OLD", gone, "token")}}}},
	}, metav1.CreateOptions{}))
	must(t)(c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Name: "robot"},
		Secrets:          []corev1.ObjectReference{{Name: cur}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: cur}},
	}, metav1.CreateOptions{}))
	must(t)(c.NetworkingV1().Ingresses(ns).Create(ctx, &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "site"},
		Spec: networkingv1.IngressSpec{
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			TLS:            []networkingv1.IngressTLS{{Hosts: []string{"example.invalid"}, SecretName: cur}},
		},
	}, metav1.CreateOptions{}))
}

// refsWorkloadFixture creates every pod-spec kind naming cur (and old, for a
// Deployment's previous revision), and decoys that must not match.
func refsWorkloadFixture(t *testing.T, ns, fam, cur, old string) {
	t.Helper()
	c := clusterenv.Client(t)
	ctx := context.Background()
	createSecret(t, c, ns, old)
	one := ptr.To(int32(1))

	// A Deployment first on old, then updated to cur: its first ReplicaSet stays as a
	// rollback target.
	must(t)(c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec: appsv1.DeploymentSpec{Replicas: one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: podTemplate("api", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/api",
				Env: []corev1.EnvVar{{Name: "PLAIN", Value: cur}, secretKeyEnv("TOKEN", old, "token")}}}})},
	}, metav1.CreateOptions{}))
	eventually(t, ns, "the first ReplicaSet of api", func() bool {
		l, err := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
		return err == nil && len(l.Items) == 1 && l.Items[0].Status.ReadyReplicas == 1
	})
	// The Deployment controller writes its status meanwhile: re-fetch on a conflict.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep, err := c.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			return err
		}
		dep.Spec.Template.Spec.Containers[0].Env[1] = secretKeyEnv("TOKEN", cur, "token")
		_, err = c.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	must(t)(c.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: podTemplate("db", corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Image: "example.invalid/init", EnvFrom: []corev1.EnvFromSource{envFromSecret(cur, false)}}},
				Volumes: []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: cur, Items: []corev1.KeyToPath{{Key: "token", Path: "token"}}}}}},
			})},
	}, metav1.CreateOptions{}))
	must(t)(c.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: podTemplate("agent", corev1.PodSpec{Volumes: []corev1.Volume{{Name: "all", VolumeSource: corev1.VolumeSource{
				Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: cur}, Optional: ptr.To(true)}}}}}}}})},
	}, metav1.CreateOptions{}))
	must(t)(c.CoreV1().ReplicationControllers(ns).Create(ctx, &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy"},
		Spec: corev1.ReplicationControllerSpec{Replicas: one, Selector: map[string]string{"app": "legacy"},
			Template: ptr.To(podTemplate("legacy", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/legacy",
				EnvFrom: []corev1.EnvFromSource{envFromSecret(cur, true)}}}}))},
	}, metav1.CreateOptions{}))

	// A Job created from the CronJob (as `kubectl create job --from=cronjob/nightly`):
	// its pod completes, so both are finished, owned by the CronJob.
	cj, err := c.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	must(t)(c.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-manual", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: ptr.To(true)}}},
		Spec: cj.Spec.JobTemplate.Spec,
	}, metav1.CreateOptions{}))

	// Decoys: look-alike names in reference fields, the name in an annotation, an env
	// value and a ConfigMap value.
	for _, name := range []string{cur + "-old", "x" + cur, fam + "x-20250723110000"} {
		createSecret(t, c, ns, name)
	}
	must(t)(c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "decoy", Annotations: map[string]string{"note": cur}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(0)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "decoy"}},
			Template: podTemplate("decoy", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/decoy",
				Env: []corev1.EnvVar{{Name: "SECRET_NAME", Value: cur}, secretKeyEnv("A", cur+"-old", "token"),
					secretKeyEnv("B", "x"+cur, "token"), secretKeyEnv("C", fam+"x-20250723110000", "token")}}}})},
	}, metav1.CreateOptions{}))
	must(t)(c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "decoy"}, Data: map[string]string{"secret": cur}}, metav1.CreateOptions{}))
}

// refsCustomFixture installs the Argo Rollouts and External Secrets CRDs when absent
// (kept afterwards: a shared cluster may hold the real ones) and creates a Rollout and
// an ExternalSecret naming cur.
func refsCustomFixture(t *testing.T, ns, cur string) {
	t.Helper()
	cfg := clusterenv.RESTConfig(t)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ensureCRD(t, dyn, "argoproj.io", "v1alpha1", "rollouts", "Rollout")
	ensureCRD(t, dyn, "external-secrets.io", "v1", "externalsecrets", "ExternalSecret")
	ctx := context.Background()
	objs := []struct {
		gvr schema.GroupVersionResource
		obj map[string]any
	}{
		{schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}, map[string]any{
			// A fixture to read, not to run: the label makes the Argo Rollouts controller (the
			// harness addon, when some test started it) leave it alone.
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": map[string]any{"name": "canary",
				"labels": map[string]any{"argo-rollouts.argoproj.io/controller-instance-id": "no-controller"}},
			"spec": map[string]any{"replicas": int64(0), "selector": map[string]any{"matchLabels": map[string]any{"app": "canary"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "canary"}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "example.invalid/canary",
						"env": []any{map[string]any{"name": "TOKEN", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": cur, "key": "token"}}}}}}}},
				"strategy": map[string]any{"canary": map[string]any{}}}}},
		{schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}, map[string]any{
			"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": map[string]any{"name": "from-vault"},
			"spec": map[string]any{"refreshInterval": "0s", "secretStoreRef": map[string]any{"name": "none", "kind": "SecretStore"},
				"target": map[string]any{"name": cur, "creationPolicy": "Owner"},
				"data":   []any{map[string]any{"secretKey": "token", "remoteRef": map[string]any{"key": "token"}}}}}},
	}
	for _, o := range objs {
		waitFor(t, "creating a "+o.gvr.Resource, func() bool {
			_, err := dyn.Resource(o.gvr).Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: o.obj}, metav1.CreateOptions{})
			return err == nil || apierrors.IsAlreadyExists(err)
		})
	}
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func ensureCRD(t *testing.T, dyn dynamic.Interface, group, version, plural, kind string) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + "." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": plural, "kind": kind},
			"versions": []any{map[string]any{"name": version, "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	ctx := context.Background()
	if _, err := dyn.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// waitFor checks cond until it holds, for what no watch shows (a CRD's kind becoming
// creatable, a RoleBinding taking effect), until the test's own deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitfor.Poll(t, what, func(context.Context) (bool, error) { return cond(), nil })
}
