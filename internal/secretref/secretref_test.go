package secretref

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"
)

// EveryStyle is a pod spec naming Secrets in every way a pod spec can, plus
// look-alikes that are not references (an env value, a ConfigMap ref).
func everyStyle() corev1.PodSpec {
	envFrom := func(n string) corev1.EnvFromSource {
		return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: n}}}
	}
	ref := func(n string) *corev1.LocalObjectReference { return &corev1.LocalObjectReference{Name: n} }
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
			Name: "debug", EnvFrom: []corev1.EnvFromSource{envFrom("s-debug")},
			Env: []corev1.EnvVar{{Name: "DBG", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "s-debug-env"}, Key: "d"}}}}}}},
		Volumes: []corev1.Volume{
			{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "s-vol", Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "c"}}}}},
			{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s-decoy-cm"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s-proj"}, Optional: ptr.To(true)}},
			}}}},
			{Name: "csi", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io", NodePublishSecretRef: ref("s-csi")}}},
			{Name: "csi-plain", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d"}}},
			{Name: "ceph", VolumeSource: corev1.VolumeSource{CephFS: &corev1.CephFSVolumeSource{Monitors: []string{"m"}, SecretRef: ref("s-ceph")}}},
			{Name: "rbd", VolumeSource: corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{CephMonitors: []string{"m"}, RBDImage: "i", SecretRef: ref("s-rbd")}}},
			{Name: "iscsi", VolumeSource: corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "p", IQN: "q", SecretRef: ref("s-iscsi")}}},
			{Name: "flex", VolumeSource: corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: "d", SecretRef: ref("s-flex")}}},
			{Name: "azure", VolumeSource: corev1.VolumeSource{AzureFile: &corev1.AzureFileVolumeSource{SecretName: "s-azure", ShareName: "sh"}}},
			{Name: "scaleio", VolumeSource: corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{Gateway: "g", System: "s", SecretRef: ref("s-scaleio")}}},
			{Name: "sos", VolumeSource: corev1.VolumeSource{StorageOS: &corev1.StorageOSVolumeSource{VolumeName: "v", SecretRef: ref("s-storageos")}}},
		},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "s-pull"}},
	}
}

// WantEveryStyle is what a walk of everyStyle at prefix reports: path, name, style,
// optional, keys.
func wantEveryStyle(prefix string) []string {
	return []string{
		prefix + ".initContainers[name=init].envFrom[0].secretRef s-init envFrom.secretRef false []",
		prefix + ".containers[name=app].env[name=TOKEN].valueFrom.secretKeyRef s-env env.secretKeyRef false [token]",
		prefix + ".containers[name=app].env[name=OPT].valueFrom.secretKeyRef s-opt env.secretKeyRef true [k]",
		prefix + ".containers[name=app].envFrom[1].secretRef s-envfrom envFrom.secretRef false []",
		prefix + ".ephemeralContainers[name=debug].env[name=DBG].valueFrom.secretKeyRef s-debug-env env.secretKeyRef false [d]",
		prefix + ".ephemeralContainers[name=debug].envFrom[0].secretRef s-debug envFrom.secretRef false []",
		prefix + ".volumes[name=creds].secret s-vol volume.secret false [tls.crt]",
		prefix + ".volumes[name=proj].projected.sources[1].secret s-proj volume.projected.secret true []",
		prefix + ".volumes[name=csi].csi.nodePublishSecretRef s-csi volume.csi.nodePublishSecretRef false []",
		prefix + ".volumes[name=ceph].cephfs.secretRef s-ceph volume.cephfs.secretRef false []",
		prefix + ".volumes[name=rbd].rbd.secretRef s-rbd volume.rbd.secretRef false []",
		prefix + ".volumes[name=iscsi].iscsi.secretRef s-iscsi volume.iscsi.secretRef false []",
		prefix + ".volumes[name=flex].flexVolume.secretRef s-flex volume.flexVolume.secretRef false []",
		prefix + ".volumes[name=azure].azureFile.secretName s-azure volume.azureFile.secretName false []",
		prefix + ".volumes[name=scaleio].scaleIO.secretRef s-scaleio volume.scaleIO.secretRef false []",
		prefix + ".volumes[name=sos].storageos.secretRef s-storageos volume.storageos.secretRef false []",
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

func collect(walk func(Visitor) bool) []Ref {
	var refs []Ref
	walk(func(r Ref) bool { refs = append(refs, r); return true })
	return refs
}

func toTree(t *testing.T, obj any) map[string]any {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestEveryPodSpecStyleIsFoundAtItsPathByBothWalkers(t *testing.T) {
	pod := &corev1.Pod{Spec: everyStyle()}
	want := wantEveryStyle("spec")
	typed := collect(func(v Visitor) bool { return PodSpec("spec", &pod.Spec, v) })
	if got := describe(typed); !reflect.DeepEqual(got, want) {
		t.Fatalf("typed walker:\n got %q\nwant %q", got, want)
	}
	u := toTree(t, pod)
	tree := collect(func(v Visitor) bool { return PodSpecAt("spec")(MapNode(u), v) })
	if got := describe(tree); !reflect.DeepEqual(got, want) {
		t.Fatalf("tree walker:\n got %q\nwant %q", got, want)
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

func TestSetRewritesOnlyTheReferenceFields(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: everyStyle()}}}
	walk := func(v Visitor) bool { return PodSpec("spec.template.spec", &d.Spec.Template.Spec, v) }
	before, _ := json.Marshal(d)
	for _, r := range collect(walk) {
		r.Set(r.Name + "-new")
	}
	for _, r := range collect(walk) {
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

// objectCase is an object in YAML, a walker, and what it must report:
// "path name style namespace any pointer".
type objectCase struct {
	name string
	walk Walker
	doc  string
	want []string
}

func describeFull(refs []Ref) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, fmt.Sprintf("%s %s %s ns=%s any=%v %s", r.Path, r.Name, r.Style, r.Namespace, r.AnyNamespace, r.Pointer))
	}
	return out
}

func TestEveryOtherPlaceIsFoundAtItsExactPointer(t *testing.T) {
	tests := []objectCase{
		{"a ServiceAccount names secrets and image pull secrets", ServiceAccount,
			`{secrets: [{name: sa-token}], imagePullSecrets: [{name: pull}]}`, []string{
				"secrets[0] sa-token serviceAccount.secrets ns= any=false /secrets/0/name",
				"imagePullSecrets[0] pull imagePullSecrets ns= any=false /imagePullSecrets/0/name"}},
		{"an Ingress names its TLS secrets, skipping entries without one", Ingress,
			`{spec: {tls: [{hosts: [a]}, {secretName: tls}]}}`, []string{
				"spec.tls[1].secretName tls ingress.tls ns= any=false /spec/tls/1/secretName"}},
		{"a PersistentVolume names every CSI secret with its namespace", PersistentVolume,
			`{spec: {csi: {driver: d, volumeHandle: h,
			  controllerPublishSecretRef: {name: cp, namespace: a}, nodeStageSecretRef: {name: ns, namespace: a},
			  nodePublishSecretRef: {name: np, namespace: b}, controllerExpandSecretRef: {name: ce, namespace: a},
			  nodeExpandSecretRef: {name: ne}}}}`, []string{
				"spec.csi.controllerPublishSecretRef cp persistentVolume.secretRef ns=a any=false /spec/csi/controllerPublishSecretRef/name",
				"spec.csi.nodeStageSecretRef ns persistentVolume.secretRef ns=a any=false /spec/csi/nodeStageSecretRef/name",
				"spec.csi.nodePublishSecretRef np persistentVolume.secretRef ns=b any=false /spec/csi/nodePublishSecretRef/name",
				"spec.csi.controllerExpandSecretRef ce persistentVolume.secretRef ns=a any=false /spec/csi/controllerExpandSecretRef/name",
				"spec.csi.nodeExpandSecretRef ne persistentVolume.secretRef ns= any=true /spec/csi/nodeExpandSecretRef/name"}},
		{"a PersistentVolume's other sources name their secretRef and azureFile secret", PersistentVolume,
			`{spec: {rbd: {secretRef: {name: r, namespace: x}}, azureFile: {secretName: az, secretNamespace: azns}}}`, []string{
				"spec.rbd.secretRef r persistentVolume.secretRef ns=x any=false /spec/rbd/secretRef/name",
				"spec.azureFile.secretName az persistentVolume.secretRef ns=azns any=false /spec/azureFile/secretName"}},
		{"a StorageClass names CSI secrets in its parameters, templated namespaces meaning any", StorageClass,
			`{parameters: {"csi.storage.k8s.io/provisioner-secret-name": prov, "csi.storage.k8s.io/provisioner-secret-namespace": kube-system,
			  "csi.storage.k8s.io/node-publish-secret-name": pub, "csi.storage.k8s.io/node-publish-secret-namespace": "${pvc.namespace}",
			  "csi.storage.k8s.io/fstype": ext4, "other-secret-name": decoy}}`, []string{
				"parameters[csi.storage.k8s.io/node-publish-secret-name] pub storageClass.parameter ns= any=true /parameters/csi.storage.k8s.io~1node-publish-secret-name",
				"parameters[csi.storage.k8s.io/provisioner-secret-name] prov storageClass.parameter ns=kube-system any=false /parameters/csi.storage.k8s.io~1provisioner-secret-name"}},
		{"a Gateway names the Secrets among its listeners' certificate references", Gateway,
			`{spec: {listeners: [{name: http}, {name: https, tls: {certificateRefs: [{name: cert}, {kind: ConfigMap, name: decoy},
			  {group: "", kind: Secret, name: other, namespace: certs}]}}]}}`, []string{
				"spec.listeners[name=https].tls.certificateRefs[0] cert gateway.certificateRef ns= any=false /spec/listeners/1/tls/certificateRefs/0/name",
				"spec.listeners[name=https].tls.certificateRefs[2] other gateway.certificateRef ns=certs any=false /spec/listeners/1/tls/certificateRefs/2/name"}},
		{"an AnalysisTemplate names the Secret of an argument", AnalysisArgs(false),
			`{spec: {args: [{name: url, value: x}, {name: token, valueFrom: {secretKeyRef: {name: tok, key: t}}}]}}`, []string{
				"spec.args[name=token].valueFrom.secretKeyRef tok analysis.args.secretKeyRef ns= any=false /spec/args/1/valueFrom/secretKeyRef/name"}},
		{"a ClusterAnalysisTemplate's argument resolves in any namespace", AnalysisArgs(true),
			`{spec: {args: [{name: token, valueFrom: {secretKeyRef: {name: tok, key: t}}}]}}`, []string{
				"spec.args[name=token].valueFrom.secretKeyRef tok analysis.args.secretKeyRef ns= any=true /spec/args/0/valueFrom/secretKeyRef/name"}},
		{"an ExternalSecret names its target", ExternalSecret,
			`{metadata: {name: es}, spec: {target: {name: db}}}`, []string{
				"spec.target.name db externalSecret.target ns= any=false /spec/target/name"}},
		{"an ExternalSecret without a target name writes the Secret named like itself", ExternalSecret,
			`{metadata: {name: es}, spec: {target: {creationPolicy: Owner}}}`, []string{
				"metadata.name es externalSecret.target ns= any=false "}},
		{"well-known annotations name a Secret, by name or namespace/name; others do not", AnnotationsAt("metadata"),
			`{metadata: {annotations: {"nginx.ingress.kubernetes.io/auth-secret": basic, "nginx.ingress.kubernetes.io/auth-tls-secret": other/ca,
			  "note": "uses basic"}}}`, []string{
				"metadata.annotations[nginx.ingress.kubernetes.io/auth-secret] basic annotation ns= any=false /metadata/annotations/nginx.ingress.kubernetes.io~1auth-secret",
				"metadata.annotations[nginx.ingress.kubernetes.io/auth-tls-secret] ca annotation ns=other any=false /metadata/annotations/nginx.ingress.kubernetes.io~1auth-tls-secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := sigsyaml.Unmarshal([]byte(tt.doc), &m); err != nil {
				t.Fatal(err)
			}
			refs := collect(func(v Visitor) bool { return tt.walk(MapNode(m), v) })
			if got := describeFull(refs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got\n %q\nwant\n %q", got, tt.want)
			}
			for _, r := range refs {
				if r.Pointer != "" {
					if got := resolve(t, m, r.Pointer); got != r.Prefix+r.Name {
						t.Fatalf("%s resolves to %v, want %q", r.Pointer, got, r.Prefix+r.Name)
					}
				}
			}
			// The same document as YAML: same references, and Set rewrites each in place.
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tt.doc), &n); err != nil {
				t.Fatal(err)
			}
			yrefs := collect(func(v Visitor) bool { return tt.walk(YAMLNode(&n), v) })
			if got := describeFull(yrefs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("YAML walk got\n %q\nwant\n %q", got, tt.want)
			}
			for _, r := range yrefs {
				r.Set(r.Name + "-new")
			}
			for _, r := range collect(func(v Visitor) bool { return tt.walk(YAMLNode(&n), v) }) {
				if r.Pointer != "" && !strings.HasSuffix(r.Name, "-new") {
					t.Fatalf("%s was not rewritten: %s", r.Path, r.Name)
				}
			}
		})
	}
}

func TestTypedAnnotationsKeepTheNamespacePrefixOnRewrite(t *testing.T) {
	ann := map[string]string{"nginx.ingress.kubernetes.io/auth-tls-secret": "certs/ca", "x": "y"}
	refs := collect(func(v Visitor) bool { return Annotations("metadata", ann, v) })
	if len(refs) != 1 || refs[0].Name != "ca" || refs[0].Namespace != "certs" {
		t.Fatalf("refs = %+v", refs)
	}
	refs[0].Set("ca-2")
	if ann["nginx.ingress.kubernetes.io/auth-tls-secret"] != "certs/ca-2" {
		t.Fatalf("rewritten to %q", ann["nginx.ingress.kubernetes.io/auth-tls-secret"])
	}
}

func TestAControllerRevisionsStoredTemplateIsWalked(t *testing.T) {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": everyStyle()}}})
	cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "web-1"}, Data: runtime.RawExtension{Raw: patch}}
	var refs []Ref
	if err := ControllerRevision(cr, func(r Ref) bool { refs = append(refs, r); return true }); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(refs), wantEveryStyle("data.spec.template.spec"); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
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
	refs := collect(func(v Visitor) bool { return PodSpecAt("spec.template.spec")(YAMLNode(&n), v) })
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
	spec := everyStyle()
	PodSpec("spec", &spec, func(Ref) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("visited %d references after asking to stop at 2", n)
	}
}

// resolve follows a JSON pointer through an unstructured object.
func resolve(t *testing.T, obj any, ptr string) any {
	t.Helper()
	for _, seg := range strings.Split(ptr, "/")[1:] {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
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
