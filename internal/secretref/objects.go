package secretref

import (
	"sort"
	"strings"
)

// ServiceAccount walks a ServiceAccount's secrets and imagePullSecrets.
func ServiceAccount(obj Node, visit Visitor) bool {
	return nameList("secrets", obj, ServiceAccountSecret, visit) && nameList("imagePullSecrets", obj, ImagePullSecret, visit)
}

// Ingress walks an Ingress's spec.tls[].secretName.
func Ingress(obj Node, visit Visitor) bool {
	spec, _ := obj.Get("spec")
	for i, tls := range items(spec, "tls") {
		if n, ok := str(tls, "secretName"); ok && n != "" {
			if !emit(visit, Ref{Path: indexPath("spec", "tls", i) + ".secretName", Name: n, Style: IngressTLS,
				Pointer: pointer("spec", "tls", i, "secretName")}, tls, "secretName") {
				return false
			}
		}
	}
	return true
}

// ExternalSecret reports the Secret an External Secrets Operator ExternalSecret
// writes: spec.target.name, which defaults to the ExternalSecret's own name.
func ExternalSecret(obj Node, visit Visitor) bool {
	if target, ok := digNode(obj, "spec", "target"); ok {
		if n, ok := str(target, "name"); ok && n != "" {
			return emit(visit, Ref{Path: "spec.target.name", Name: n, Style: ExternalSecretTarget, Pointer: "/spec/target/name"}, target, "name")
		}
	}
	if meta, ok := obj.Get("metadata"); ok {
		if n, ok := str(meta, "name"); ok {
			// Not rewritable in place: the target follows the object's name.
			return visit(Ref{Path: "metadata.name", Name: n, Style: ExternalSecretTarget})
		}
	}
	return true
}

// pvCSIRefs are the Secret references of a PersistentVolume's CSI source.
var pvCSIRefs = []string{"controllerPublishSecretRef", "nodeStageSecretRef", "nodePublishSecretRef",
	"controllerExpandSecretRef", "nodeExpandSecretRef"}

// pvSources are the other PersistentVolume sources with a secretRef (name and
// namespace).
var pvSources = []string{"cephfs", "rbd", "iscsi", "flexVolume", "scaleIO", "storageos"}

// PersistentVolume walks a PersistentVolume's Secret references: its CSI source's
// five, the secretRef of the other sources that have one, and azureFile's secretName.
// Each names its namespace; a reference without one resolves in the namespace of the
// pod using the volume, so it may be in any namespace.
func PersistentVolume(obj Node, visit Visitor) bool {
	spec, ok := obj.Get("spec")
	if !ok {
		return true
	}
	ref := func(src, field string) bool {
		r, ok := digNode(spec, src, field)
		if !ok {
			return true
		}
		n, ok := str(r, "name")
		if !ok || n == "" {
			return true
		}
		ns, _ := str(r, "namespace")
		return emit(visit, Ref{Path: "spec." + src + "." + field, Name: n, Style: PersistentVolumeSecretRef, Namespace: ns,
			AnyNamespace: ns == "", Pointer: pointer("spec", src, field, "name")}, r, "name")
	}
	for _, f := range pvCSIRefs {
		if !ref("csi", f) {
			return false
		}
	}
	for _, src := range pvSources {
		if !ref(src, "secretRef") {
			return false
		}
	}
	if az, ok := spec.Get("azureFile"); ok {
		if n, ok := str(az, "secretName"); ok && n != "" {
			ns, _ := str(az, "secretNamespace")
			if !emit(visit, Ref{Path: "spec.azureFile.secretName", Name: n, Style: PersistentVolumeSecretRef, Namespace: ns,
				AnyNamespace: ns == "", Pointer: "/spec/azureFile/secretName"}, az, "secretName") {
				return false
			}
		}
	}
	return true
}

// StorageClass walks the CSI secret parameters of a StorageClass:
// csi.storage.k8s.io/<stage>-secret-name, with the Secret's namespace from the
// matching -secret-namespace parameter. A namespace templated on the claim
// (${pvc.namespace}) or missing resolves per claim: any namespace.
func StorageClass(obj Node, visit Visitor) bool {
	params, ok := obj.Get("parameters")
	if !ok {
		return true
	}
	const prefix, suffix = "csi.storage.k8s.io/", "-secret-name"
	keys := params.Keys()
	sort.Strings(keys)
	for _, key := range keys {
		if !strings.HasPrefix(key, prefix) || !strings.HasSuffix(key, suffix) {
			continue
		}
		n, ok := str(params, key)
		if !ok || n == "" {
			continue
		}
		ns, _ := str(params, strings.TrimSuffix(key, suffix)+"-secret-namespace")
		any := ns == "" || strings.Contains(ns, "${")
		if any {
			ns = ""
		}
		if !emit(visit, Ref{Path: keyPath("", "parameters", key), Name: n, Style: StorageClassParameter, Namespace: ns,
			AnyNamespace: any, Pointer: pointer("", "parameters", key)}, params, key) {
			return false
		}
	}
	return true
}

// Gateway walks a Gateway API Gateway's listeners' tls.certificateRefs that name a
// Secret (kind Secret, the default, in the core group).
func Gateway(obj Node, visit Visitor) bool {
	spec, _ := obj.Get("spec")
	for i, l := range items(spec, "listeners") {
		lname, _ := str(l, "name")
		tls, ok := l.Get("tls")
		if !ok {
			continue
		}
		for j, c := range items(tls, "certificateRefs") {
			kind, _ := str(c, "kind")
			group, _ := str(c, "group")
			if (kind != "" && kind != "Secret") || (group != "" && group != "core") {
				continue
			}
			n, ok := str(c, "name")
			if !ok || n == "" {
				continue
			}
			ns, _ := str(c, "namespace")
			if !emit(visit, Ref{Path: indexPath(namedPath("spec", "listeners", lname)+".tls", "certificateRefs", j), Name: n,
				Style: GatewayCertificateRef, Namespace: ns, Pointer: pointer("spec", "listeners", i, "tls", "certificateRefs", j, "name")}, c, "name") {
				return false
			}
		}
	}
	return true
}

// AnalysisArgs walks an Argo Rollouts AnalysisTemplate's (or AnalysisRun's)
// spec.args[].valueFrom.secretKeyRef. anyNamespace is set for a
// ClusterAnalysisTemplate, whose arguments resolve in each run's namespace.
func AnalysisArgs(anyNamespace bool) Walker {
	return func(obj Node, visit Visitor) bool {
		spec, _ := obj.Get("spec")
		for i, a := range items(spec, "args") {
			ref, ok := digNode(a, "valueFrom", "secretKeyRef")
			if !ok {
				continue
			}
			n, ok := str(ref, "name")
			if !ok || n == "" {
				continue
			}
			aname, _ := str(a, "name")
			key, _ := str(ref, "key")
			if !emit(visit, Ref{Path: namedPath("spec", "args", aname) + ".valueFrom.secretKeyRef", Name: n, Style: AnalysisArg,
				Keys: []string{key}, AnyNamespace: anyNamespace,
				Pointer: pointer("spec", "args", i, "valueFrom", "secretKeyRef", "name")}, ref, "name") {
				return false
			}
		}
		return true
	}
}

func nameList(field string, obj Node, style Style, visit Visitor) bool {
	for i, it := range items(obj, field) {
		if n, ok := str(it, "name"); ok && n != "" {
			if !emit(visit, Ref{Path: indexPath("", field, i), Name: n, Style: style, Pointer: pointer("", field, i, "name")}, it, "name") {
				return false
			}
		}
	}
	return true
}
