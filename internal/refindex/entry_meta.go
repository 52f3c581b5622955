package refindex

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// An Entry is a metav1.Object, so that the informers' stores key and index it by
// namespace and name (meta.Accessor). It has nothing but its name, namespace and labels:
// the other getters (noMeta's) return nothing and the other setters drop their values.
var _ metav1.Object = (*Entry)(nil)

// GetNamespace implements metav1.Object.
func (e *Entry) GetNamespace() string { return e.Namespace }

// SetNamespace implements metav1.Object.
func (e *Entry) SetNamespace(ns string) { e.Namespace = ns }

// GetName implements metav1.Object.
func (e *Entry) GetName() string { return e.Name }

// SetName implements metav1.Object.
func (e *Entry) SetName(name string) { e.Name = name }

// GetLabels implements metav1.Object.
func (e *Entry) GetLabels() map[string]string { return e.Labels }

// SetLabels implements metav1.Object.
func (e *Entry) SetLabels(labels map[string]string) { e.Labels = labels }

// noMeta is the rest of metav1.Object, for metadata an Entry does not keep. It has no
// size: embedded first in Entry, it costs nothing.
type noMeta struct{}

func (noMeta) GetGenerateName() string                       { return "" }
func (noMeta) SetGenerateName(string)                        {}
func (noMeta) GetUID() types.UID                             { return "" }
func (noMeta) SetUID(types.UID)                              {}
func (noMeta) GetResourceVersion() string                    { return "" }
func (noMeta) SetResourceVersion(string)                     {}
func (noMeta) GetGeneration() int64                          { return 0 }
func (noMeta) SetGeneration(int64)                           {}
func (noMeta) GetSelfLink() string                           { return "" }
func (noMeta) SetSelfLink(string)                            {}
func (noMeta) GetCreationTimestamp() metav1.Time             { return metav1.Time{} }
func (noMeta) SetCreationTimestamp(metav1.Time)              {}
func (noMeta) GetDeletionTimestamp() *metav1.Time            { return nil }
func (noMeta) SetDeletionTimestamp(*metav1.Time)             {}
func (noMeta) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (noMeta) SetDeletionGracePeriodSeconds(*int64)          {}
func (noMeta) GetAnnotations() map[string]string             { return nil }
func (noMeta) SetAnnotations(map[string]string)              {}
func (noMeta) GetFinalizers() []string                       { return nil }
func (noMeta) SetFinalizers([]string)                        {}
func (noMeta) GetOwnerReferences() []metav1.OwnerReference   { return nil }
func (noMeta) SetOwnerReferences([]metav1.OwnerReference)    {}
func (noMeta) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (noMeta) SetManagedFields([]metav1.ManagedFieldsEntry)  {}
