package secretref

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// everyStyle is a pod spec naming Secrets in every way a pod spec can, plus
// look-alikes that are not references (an env value, a ConfigMap ref).
func everyStyle() corev1.PodSpec {
	envFrom := func(n string) corev1.EnvFromSource {
		return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: n}}}
	}
	return corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", EnvFrom: []corev1.EnvFromSource{envFrom("s-init")}}},
		Containers: []corev1.Container{{
			Name: "app",
			Env: []corev1.EnvVar{
				{Name: "PLAIN", Value: "s-decoy"},
				{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "s-env"}, Key: "token"}}},
				{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "s-opt"}, Key: "k", Optional: ptr.To(true)}}},
				{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "s-decoy-cm"}, Key: "k"}}},
			},
			EnvFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s-decoy-cm"}}},
				envFrom("s-envfrom"),
			},
		}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", EnvFrom: []corev1.EnvFromSource{envFrom("s-debug")}}}},
		Volumes: []corev1.Volume{
			{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "s-vol", Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "c"}}}}},
			{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s-decoy-cm"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s-proj"}, Optional: ptr.To(true)}},
			}}}},
		},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "s-pull"}},
	}
}

func wantEveryStyle(prefix string) []string {
	return []string{
		prefix + ".initContainers[name=init].envFrom[0].secretRef s-init envFrom.secretRef false []",
		prefix + ".containers[name=app].env[name=TOKEN].valueFrom.secretKeyRef s-env env.secretKeyRef false [token]",
		prefix + ".containers[name=app].env[name=OPT].valueFrom.secretKeyRef s-opt env.secretKeyRef true [k]",
		prefix + ".containers[name=app].envFrom[1].secretRef s-envfrom envFrom.secretRef false []",
		prefix + ".ephemeralContainers[name=debug].envFrom[0].secretRef s-debug envFrom.secretRef false []",
		prefix + ".volumes[name=creds].secret s-vol volume.secret false [tls.crt]",
		prefix + ".volumes[name=proj].projected.sources[1].secret s-proj volume.projected.secret true []",
		prefix + ".imagePullSecrets[0] s-pull imagePullSecrets false []",
	}
}

func describe(refs []Ref) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		keys := r.Keys
		if keys == nil {
			keys = []string{}
		}
		out = append(out, fmt.Sprintf("%s %s %s %v %v", r.Path, r.Name, r.Style, r.Optional, keys))
	}
	return out
}

func collectTyped(t *testing.T, obj runtime.Object) []Ref {
	t.Helper()
	var refs []Ref
	if err := Object(obj, func(r Ref) bool { refs = append(refs, r); return true }); err != nil {
		t.Fatal(err)
	}
	return refs
}

func collectTree(t *testing.T, kind string, obj runtime.Object) []Ref {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	var refs []Ref
	Tree(kind, MapNode(u), func(r Ref) bool { refs = append(refs, r); return true })
	return refs
}

func TestEveryKindWithAPodSpecIsWalkedTheSameByBothWalkers(t *testing.T) {
	spec := everyStyle()
	tmpl := corev1.PodTemplateSpec{Spec: spec}
	tests := []struct {
		name string
		kind string
		obj  runtime.Object
	}{
		{"a Pod's spec is walked", "Pod", &corev1.Pod{Spec: spec}},
		{"a Deployment's template is walked", "Deployment", &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: tmpl}}},
		{"a ReplicaSet's template is walked", "ReplicaSet", &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: tmpl}}},
		{"a StatefulSet's template is walked", "StatefulSet", &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: tmpl}}},
		{"a DaemonSet's template is walked", "DaemonSet", &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: tmpl}}},
		{"a Job's template is walked", "Job", &batchv1.Job{Spec: batchv1.JobSpec{Template: tmpl}}},
		{"a CronJob's job template is walked", "CronJob", &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}},
		{"a ReplicationController's template is walked", "ReplicationController", &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &tmpl}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := wantEveryStyle(PodSpecPrefix[tt.kind])
			if got := describe(collectTyped(t, tt.obj)); !reflect.DeepEqual(got, want) {
				t.Fatalf("typed walker:\n got %q\nwant %q", got, want)
			}
			if got := describe(collectTree(t, tt.kind, tt.obj)); !reflect.DeepEqual(got, want) {
				t.Fatalf("tree walker:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestSetRewritesOnlyTheReferenceFields(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: everyStyle()}}}
	before, _ := json.Marshal(d)
	for _, r := range collectTyped(t, d) {
		r.Set(r.Name + "-new")
	}
	for _, r := range collectTyped(t, d) {
		if !strings.HasSuffix(r.Name, "-new") {
			t.Fatalf("%s still names %s", r.Path, r.Name)
		}
	}
	after, _ := json.Marshal(d)
	// Every reference name changed and nothing else: undo the suffix and compare.
	if got := strings.ReplaceAll(string(after), "-new\"", "\""); got != string(before) {
		t.Fatalf("Set changed more than reference names:\n%s\n%s", before, after)
	}
	if !strings.Contains(string(after), `"value":"s-decoy"`) {
		t.Fatal("an env value was rewritten")
	}
}

func TestServiceAccountIngressAndControllerRevision(t *testing.T) {
	sa := &corev1.ServiceAccount{Secrets: []corev1.ObjectReference{{Name: "sa-token"}}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}}
	ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{TLS: []networkingv1.IngressTLS{{Hosts: []string{"a"}}, {SecretName: "tls"}}}}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": everyStyle()}}})
	cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "web-1"}, Data: runtime.RawExtension{Raw: patch}}
	tests := []struct {
		name string
		kind string
		obj  runtime.Object
		want []string
	}{
		{"a ServiceAccount names secrets and image pull secrets", "ServiceAccount", sa, []string{
			"secrets[0] sa-token serviceAccount.secrets false []", "imagePullSecrets[0] pull imagePullSecrets false []"}},
		{"an Ingress names its TLS secrets, skipping entries without one", "Ingress", ing, []string{
			"spec.tls[1].secretName tls ingress.tls false []"}},
		{"a ControllerRevision's stored template is walked", "ControllerRevision", cr, wantEveryStyle("data.spec.template.spec")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describe(collectTyped(t, tt.obj)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("typed:\n got %q\nwant %q", got, tt.want)
			}
			if tt.kind == "ControllerRevision" {
				return // stored as raw bytes; the tree form is not the same object
			}
			if got := describe(collectTree(t, tt.kind, tt.obj)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("tree:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestExternalSecretTarget(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"an explicit target name is the Secret", "metadata: {name: es}\nspec: {target: {name: db-20250101000000}}", []string{"spec.target.name db-20250101000000 externalSecret.target false []"}},
		{"without a target name the Secret is named like the ExternalSecret", "metadata: {name: es}\nspec: {target: {creationPolicy: Owner}}", []string{"metadata.name es externalSecret.target false []"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tt.doc), &n); err != nil {
				t.Fatal(err)
			}
			var refs []Ref
			Tree("ExternalSecret", YAMLNode(&n), func(r Ref) bool { refs = append(refs, r); return true })
			if got := describe(refs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q want %q", got, tt.want)
			}
		})
	}
}

func TestYAMLWalkReportsLinesAndRewritesInPlace(t *testing.T) {
	doc := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    note: uses auth-20250101000000 # not a reference
spec:
  template:
    spec:
      containers:
      - name: app
        envFrom:
        - secretRef:
            name: auth-20250101000000   # the reference
      volumes:
      - name: creds
        secret:
          secretName: "auth-20250101000000"
`
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	var refs []Ref
	Tree("Deployment", YAMLNode(&n), func(r Ref) bool { refs = append(refs, r); return true })
	if len(refs) != 2 || refs[0].Line != 14 || refs[1].Line != 18 {
		t.Fatalf("refs = %+v, want lines 14 and 18", refs)
	}
	for _, r := range refs {
		r.Set("auth-20250202000000")
	}
	out, err := yaml.Marshal(&n)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(out), "auth-20250202000000") != 2 || !strings.Contains(string(out), "note: uses auth-20250101000000 # not a reference") ||
		!strings.Contains(string(out), "# the reference") {
		t.Fatalf("rewrite changed more than the references or lost comments:\n%s", out)
	}
}

func TestVisitorCanStopTheWalk(t *testing.T) {
	n := 0
	_ = Object(&corev1.Pod{Spec: everyStyle()}, func(Ref) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("visited %d references after asking to stop at 2", n)
	}
}

func TestPointersAgreeAndAddressTheName(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: everyStyle()}}}
	typed := collectTyped(t, d)
	tree := collectTree(t, "Deployment", d)
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range typed {
		if r.Pointer == "" || r.Pointer != tree[i].Pointer {
			t.Fatalf("pointer of %s: typed %q, tree %q", r.Path, r.Pointer, tree[i].Pointer)
		}
		if got := resolve(t, u, r.Pointer); got != r.Name {
			t.Fatalf("%s resolves to %v, want %q", r.Pointer, got, r.Name)
		}
	}
}

// resolve follows a JSON pointer through an unstructured object.
func resolve(t *testing.T, obj any, ptr string) any {
	t.Helper()
	for _, seg := range strings.Split(ptr, "/")[1:] {
		switch o := obj.(type) {
		case map[string]any:
			obj = o[seg]
		case []any:
			var i int
			if _, err := fmt.Sscan(seg, &i); err != nil || i >= len(o) {
				t.Fatalf("bad index %q in %s", seg, ptr)
			}
			obj = o[i]
		default:
			t.Fatalf("%s: cannot descend into %T at %q", ptr, obj, seg)
		}
	}
	return obj
}
