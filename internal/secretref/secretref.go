// Package secretref is the one place that knows where a Secret can be named inside a
// Kubernetes object. Every command walks the same places: `refs` reads them, `rollout`
// and `rollback` rewrite them in live objects, `gitops` rewrites them in YAML, and
// `cleanup` asks whether any remain. A visitor is called once per place with its exact
// field path, the Secret name there, whether it is optional, and the keys it requires;
// Ref.Set rewrites the name in the visited object. Adding a new referencing kind means
// adding it here, once.
//
// Two walkers share one description of the places: a typed one over k8s.io/api structs
// (fast: cluster objects decoded from protobuf) and a tree one over JSON-like trees
// (unstructured objects of CRDs, and YAML manifests). Tests hold them in agreement.
//
// The package is pure: no I/O, no clients.
package secretref

import (
	"fmt"
	"strings"
)

// Style says how a Secret is referenced.
type Style string

// The reference styles.
const (
	EnvSecretKeyRef      Style = "env.secretKeyRef"
	EnvFromSecretRef     Style = "envFrom.secretRef"
	VolumeSecret         Style = "volume.secret"
	ProjectedSecret      Style = "volume.projected.secret"
	ImagePullSecret      Style = "imagePullSecrets"
	ServiceAccountSecret Style = "serviceAccount.secrets"
	IngressTLS           Style = "ingress.tls"
	ExternalSecretTarget Style = "externalSecret.target"
)

// Ref is one place where a Secret is named.
type Ref struct {
	// Path is the field path within the object, e.g.
	// spec.template.spec.containers[name=app].envFrom[0].secretRef.
	Path string
	// Name is the Secret named there.
	Name  string
	Style Style
	// Optional is true when a missing Secret (or key) does not stop a pod.
	Optional bool
	// Keys are the data keys this reference requires (secretKeyRef's key, a secret
	// volume's items); empty when it takes whatever the Secret has.
	Keys []string
	// Container is the container the reference belongs to, if any.
	Container string
	// Line is the 1-based line of the name in a YAML source; 0 elsewhere.
	Line int
	// Pointer is the JSON pointer (RFC 6901) of the name's string field, with list
	// indices, e.g. /spec/template/spec/containers/0/envFrom/1/secretRef/name: what a
	// JSON patch that changes only this reference addresses. Empty when the name is not
	// a field of its own (an ExternalSecret without spec.target.name).
	Pointer string

	set func(string)
}

// Set rewrites the reference in the visited object to name. It is a no-op for a Ref
// that did not come from a visitor.
func (r Ref) Set(name string) {
	if r.set != nil {
		r.set(name)
	}
}

// Visitor is called for every reference. Returning false stops the walk.
type Visitor func(Ref) bool

// containerField names the container lists of a pod spec, in walk order.
var containerFields = []string{"initContainers", "containers", "ephemeralContainers"}

func containerPath(prefix, field, name string) string {
	return fmt.Sprintf("%s.%s[name=%s]", prefix, field, name)
}

func indexPath(prefix, field string, i int) string {
	return fmt.Sprintf("%s.%s[%d]", prefix, field, i)
}

func namedPath(prefix, field, name string) string {
	return fmt.Sprintf("%s.%s[name=%s]", prefix, field, name)
}

// pointer builds a JSON pointer from a dotted prefix and further segments.
func pointer(prefix string, segments ...any) string {
	var b strings.Builder
	if prefix != "" {
		b.WriteString("/" + strings.ReplaceAll(prefix, ".", "/"))
	}
	for _, s := range segments {
		fmt.Fprintf(&b, "/%v", s)
	}
	return b.String()
}

// PodSpecPrefix is where a kind keeps its pod spec, for the kinds that have one.
// ControllerRevisions keep a strategic-merge patch of their owner's template in data.
var PodSpecPrefix = map[string]string{
	"Pod":                   "spec",
	"PodTemplate":           "template.spec",
	"Deployment":            "spec.template.spec",
	"ReplicaSet":            "spec.template.spec",
	"StatefulSet":           "spec.template.spec",
	"DaemonSet":             "spec.template.spec",
	"Job":                   "spec.template.spec",
	"ReplicationController": "spec.template.spec",
	"CronJob":               "spec.jobTemplate.spec.template.spec",
	"ControllerRevision":    "data.spec.template.spec",
	"Rollout":               "spec.template.spec", // Argo Rollouts
}
