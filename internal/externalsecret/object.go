package externalsecret

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/internal/family"
)

// GVR is the ExternalSecret resource rotor writes (ESO's v1 API).
var GVR = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}

// APIVersion of the ExternalSecrets rotor writes.
const APIVersion = "external-secrets.io/v1"

// storeGVR is the resource of a store kind.
func storeGVR(kind string) schema.GroupVersionResource {
	if kind == KindClusterSecretStore {
		return schema.GroupVersionResource{Group: GVR.Group, Version: GVR.Version, Resource: "clustersecretstores"}
	}
	return schema.GroupVersionResource{Group: GVR.Group, Version: GVR.Version, Resource: "secretstores"}
}

// Object is the ExternalSecret of version v: named like it, writing the Secret of the
// same name (owned by it, immutable, never refreshed), every key pinned to its remote
// version. The Secret gets rotor's version labels and annotations through the
// target's template metadata, so rotor and `kubectl get -l` find it as any version.
func Object(r Request, v family.Version) *unstructured.Unstructured {
	labels := map[string]any{}
	for k, val := range family.Labels(v) {
		labels[k] = val
	}
	annotations := map[string]any{family.AnnotationFamily: r.Family}
	if r.RotorVersion != "" {
		annotations[family.AnnotationRotorVersion] = r.RotorVersion
	}
	if r.CreatedBy != "" {
		annotations[family.AnnotationCreatedBy] = r.CreatedBy
	}
	kind := r.StoreKind
	if kind == "" {
		kind = KindSecretStore
	}
	data := make([]any, len(r.Data))
	for i, d := range r.Data {
		ref := map[string]any{"key": d.RemoteRef.Key, "version": d.RemoteRef.Version}
		if d.RemoteRef.Property != "" {
			ref["property"] = d.RemoteRef.Property
		}
		data[i] = map[string]any{"secretKey": d.SecretKey, "remoteRef": ref}
	}
	template := map[string]any{
		"engineVersion": "v2",
		"metadata":      map[string]any{"labels": copyMap(labels), "annotations": copyMap(annotations)},
	}
	if r.Type != "" {
		template["type"] = string(r.Type)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": APIVersion,
		"kind":       "ExternalSecret",
		"metadata": map[string]any{
			"name":        v.Name(),
			"namespace":   r.Namespace,
			"labels":      labels,
			"annotations": annotations,
		},
		"spec": map[string]any{
			// "0": synced once, never refreshed (a string: ESO rejects a number).
			"refreshInterval": "0",
			"secretStoreRef":  map[string]any{"name": r.Store, "kind": kind},
			"target": map[string]any{
				"name":           v.Name(),
				"creationPolicy": "Owner",
				"immutable":      true,
				"template":       template,
			},
			"data": data,
		},
	}}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
