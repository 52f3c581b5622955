// Package managedby tells whether another tool owns an object's desired state: Argo CD,
// Flux or Helm. A live change to such an object is reverted by its owner (Argo CD's
// self-heal or next sync, Flux's next reconcile, the next `helm upgrade`), so a
// rotation must change the owner's source instead, or drift knowingly. Detection reads
// only the object's labels and annotations, the markers these tools write:
//
//   - Argo CD: the annotation argocd.argoproj.io/tracking-id (annotation tracking), the
//     label argocd.argoproj.io/instance (the documented instance label), or the label
//     app.kubernetes.io/instance together with an argocd.argoproj.io/* annotation
//     (label tracking: that label alone is also what Helm charts and kustomize write,
//     so it is not taken as Argo CD's without a sign of Argo CD);
//   - Flux: labels kustomize.toolkit.fluxcd.io/name (+ /namespace) or
//     helm.toolkit.fluxcd.io/name (+ /namespace);
//   - Helm: the annotation meta.helm.sh/release-name (+ release-namespace), or the
//     label app.kubernetes.io/managed-by: Helm.
//
// Flux's and Argo CD's markers win over Helm's: a Helm release that Flux's
// helm-controller or Argo CD installs is reconciled by them.
//
// The package is pure.
package managedby

import (
	"fmt"
	"strings"
)

// Tool is a tool that owns objects.
type Tool string

// The tools.
const (
	ArgoCD Tool = "Argo CD"
	Flux   Tool = "Flux"
	Helm   Tool = "Helm"
)

// Owner is who manages an object.
type Owner struct {
	Tool Tool `json:"tool"`
	// Name is the Argo CD Application, Flux Kustomization or HelmRelease, or Helm
	// release, as far as the markers say ("" when they do not).
	Name string `json:"name,omitempty"`
	// Namespace is the owner object's namespace, when the markers say.
	Namespace string `json:"namespace,omitempty"`
	// Kind is the owning object's kind where it has one (Application, Kustomization,
	// HelmRelease); "" for a plain Helm release.
	Kind string `json:"kind,omitempty"`
}

// String is "Argo CD Application shop", "Flux Kustomization flux-system/apps",
// "Helm release web".
func (o Owner) String() string {
	s := string(o.Tool)
	switch {
	case o.Kind != "":
		s += " " + o.Kind
	case o.Tool == Helm:
		s += " release"
	}
	if o.Name != "" {
		if o.Namespace != "" {
			s += " " + o.Namespace + "/" + o.Name
		} else {
			s += " " + o.Name
		}
	}
	return s
}

// Remedy says what to do instead of a live re-point, and how to force one.
func (o Owner) Remedy(flag string) string {
	var how string
	switch o.Tool {
	case ArgoCD:
		how = "Argo CD would revert a live change at its next sync or self-heal: change the version in the Application's source (its Git manifests or Helm values)"
	case Flux:
		how = "Flux would revert a live change at its next reconcile: change the version in the source it applies (Git manifests or HelmRelease values)"
	default:
		how = "the next `helm upgrade` would revert a live change: change the version in the chart's values and upgrade the release"
	}
	return fmt.Sprintf("%s, or pass %s to patch it anyway (the drift is recorded)", how, flag)
}

// Detect returns who manages an object with these labels and annotations, or nil.
func Detect(labels, annotations map[string]string) *Owner {
	if id := annotations["argocd.argoproj.io/tracking-id"]; id != "" {
		// <app>:<group>/<kind>:<namespace>/<name>, app possibly "<namespace>_<app>".
		app, _, _ := strings.Cut(id, ":")
		o := &Owner{Tool: ArgoCD, Kind: "Application", Name: app}
		if ns, name, ok := strings.Cut(app, "_"); ok {
			o.Namespace, o.Name = ns, name
		}
		return o
	}
	if app := labels["argocd.argoproj.io/instance"]; app != "" {
		return &Owner{Tool: ArgoCD, Kind: "Application", Name: app}
	}
	if app := labels["app.kubernetes.io/instance"]; app != "" && hasPrefix(annotations, "argocd.argoproj.io/") {
		return &Owner{Tool: ArgoCD, Kind: "Application", Name: app}
	}
	if name := labels["kustomize.toolkit.fluxcd.io/name"]; name != "" {
		return &Owner{Tool: Flux, Kind: "Kustomization", Name: name, Namespace: labels["kustomize.toolkit.fluxcd.io/namespace"]}
	}
	if name := labels["helm.toolkit.fluxcd.io/name"]; name != "" {
		return &Owner{Tool: Flux, Kind: "HelmRelease", Name: name, Namespace: labels["helm.toolkit.fluxcd.io/namespace"]}
	}
	if name := annotations["meta.helm.sh/release-name"]; name != "" {
		return &Owner{Tool: Helm, Name: name, Namespace: annotations["meta.helm.sh/release-namespace"]}
	}
	if strings.EqualFold(labels["app.kubernetes.io/managed-by"], "Helm") {
		return &Owner{Tool: Helm, Name: labels["app.kubernetes.io/instance"]}
	}
	return nil
}

func hasPrefix(m map[string]string, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
