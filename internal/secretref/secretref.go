// Package secretref is the one place that knows where a Secret can be named inside an
// object: the fields of a pod spec (env, envFrom, volumes of every kind that takes a
// Secret, imagePullSecrets, in containers, init containers and ephemeral containers)
// and the fields of the other objects that name Secrets (ServiceAccounts, Ingress TLS,
// PersistentVolume CSI references, StorageClass parameters, Gateway certificate
// references, ExternalSecret targets, Argo Rollouts analysis arguments, well-known
// annotations). Every command walks the same places: `refs` reads them, `rollout` and
// `rollback` rewrite them in live objects, `gitops` rewrites them in YAML, and `cleanup`
// asks whether any remain. A visitor is called once per place with its exact field
// path and JSON pointer, the Secret name there, whether it is optional, and the keys it
// requires; Ref.Set rewrites the name in the visited object.
//
// Which kind has which places is not decided here: the kinds registry
// (internal/kinds) composes the walkers of this package into one walker per kind.
// Adding a new place means adding it here (typed and tree forms where both exist) and
// naming it in the registry's entry of the kinds that have it.
//
// Two forms share one description of the places: typed walkers over k8s.io/api structs
// (fast: cluster objects decoded from protobuf) and tree walkers over JSON-like trees
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
	// The volume sources that take a Secret besides secret and projected.
	VolumeCSI                 Style = "volume.csi.nodePublishSecretRef"
	VolumeCephFS              Style = "volume.cephfs.secretRef"
	VolumeRBD                 Style = "volume.rbd.secretRef"
	VolumeISCSI               Style = "volume.iscsi.secretRef"
	VolumeFlex                Style = "volume.flexVolume.secretRef"
	VolumeAzureFile           Style = "volume.azureFile.secretName"
	VolumeScaleIO             Style = "volume.scaleIO.secretRef"
	VolumeStorageOS           Style = "volume.storageos.secretRef"
	PersistentVolumeSecretRef Style = "persistentVolume.secretRef"
	// StorageClassParameter is a csi.storage.k8s.io/*-secret-name parameter.
	StorageClassParameter Style = "storageClass.parameter"
	GatewayCertificateRef Style = "gateway.certificateRef"
	// AnalysisArg is an Argo Rollouts analysis argument's valueFrom.secretKeyRef.
	AnalysisArg Style = "analysis.args.secretKeyRef"
	// Annotation is a well-known annotation whose value names a Secret.
	Annotation Style = "annotation"
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
	// Namespace is the Secret's namespace when the reference names one (a
	// PersistentVolume's secretRef, a StorageClass's -secret-namespace parameter, a
	// Gateway's cross-namespace certificateRef, a "namespace/name" annotation); "" means
	// the object's own namespace.
	Namespace string
	// AnyNamespace is set when the reference resolves in a namespace known only later
	// (a ClusterAnalysisTemplate's argument resolves in the namespace of each analysis
	// run; a StorageClass parameter templated on the claim's namespace).
	AnyNamespace bool
	// Prefix is text the field holds before the name ("namespace/" in an annotation
	// value): the field's value is Prefix + Name.
	Prefix string
	// Line is the 1-based line of the name in a YAML source; 0 elsewhere.
	Line int
	// Pointer is the JSON pointer (RFC 6901) of the name's string field, with list
	// indices, e.g. /spec/template/spec/containers/0/envFrom/1/secretRef/name: what a
	// JSON patch that changes only this reference addresses. Empty when the name is not
	// a field of its own (an ExternalSecret without spec.target.name).
	Pointer string

	set func(string)
}

// Set rewrites the reference in the visited object to name (keeping Prefix). It is a
// no-op for a Ref that did not come from a visitor, and for places that are read from
// a decoded copy (a ControllerRevision's data).
func (r Ref) Set(name string) {
	if r.set != nil {
		r.set(r.Prefix + name)
	}
}

// Visitor is called for every reference. Returning false stops the walk.
type Visitor func(Ref) bool

// containerFields names the container lists of a pod spec, in walk order.
var containerFields = []string{"initContainers", "containers", "ephemeralContainers"}

func containerPath(prefix, field, name string) string {
	return fmt.Sprintf("%s.%s[name=%s]", prefix, field, name)
}

func indexPath(prefix, field string, i int) string {
	if prefix == "" {
		return fmt.Sprintf("%s[%d]", field, i)
	}
	return fmt.Sprintf("%s.%s[%d]", prefix, field, i)
}

func namedPath(prefix, field, name string) string {
	return fmt.Sprintf("%s.%s[name=%s]", prefix, field, name)
}

func keyPath(prefix, field, key string) string {
	if prefix == "" {
		return fmt.Sprintf("%s[%s]", field, key)
	}
	return fmt.Sprintf("%s.%s[%s]", prefix, field, key)
}

// pointer builds a JSON pointer from a dotted prefix and further segments; string
// segments are escaped (RFC 6901).
func pointer(prefix string, segments ...any) string {
	var b strings.Builder
	if prefix != "" {
		b.WriteString("/" + strings.ReplaceAll(prefix, ".", "/"))
	}
	for _, s := range segments {
		if str, ok := s.(string); ok {
			s = EscapePointer(str)
		}
		fmt.Fprintf(&b, "/%v", s)
	}
	return b.String()
}

// EscapePointer escapes one JSON pointer segment (RFC 6901).
func EscapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// volumeSource is a volume source (other than secret and projected) that names a
// Secret: the source's field, the path from it to the name, and the style. The typed
// walker reads the same fields through typedVolumeNames, in this order.
type volumeSource struct {
	field string
	path  []string
	style Style
}

var volumeSources = []volumeSource{
	{"csi", []string{"nodePublishSecretRef", "name"}, VolumeCSI},
	{"cephfs", []string{"secretRef", "name"}, VolumeCephFS},
	{"rbd", []string{"secretRef", "name"}, VolumeRBD},
	{"iscsi", []string{"secretRef", "name"}, VolumeISCSI},
	{"flexVolume", []string{"secretRef", "name"}, VolumeFlex},
	{"azureFile", []string{"secretName"}, VolumeAzureFile},
	{"scaleIO", []string{"secretRef", "name"}, VolumeScaleIO},
	{"storageos", []string{"secretRef", "name"}, VolumeStorageOS},
}

// WellKnownAnnotations are annotations whose value names a Secret ("name", or
// "namespace/name" where the controller allows it): ingress controllers' basic-auth,
// client-certificate and upstream TLS Secrets, cert-manager's CA injection source, and
// the Vault agent injector's TLS Secret on pod templates.
var WellKnownAnnotations = []string{
	"nginx.ingress.kubernetes.io/auth-secret",
	"nginx.ingress.kubernetes.io/auth-tls-secret",
	"nginx.ingress.kubernetes.io/proxy-ssl-secret",
	"ingress.kubernetes.io/auth-secret",
	"haproxy.org/auth-secret",
	"haproxy.org/server-ca",
	"haproxy.org/server-crt",
	"cert-manager.io/inject-ca-from-secret",
	"vault.hashicorp.com/tls-secret",
}
