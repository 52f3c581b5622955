// Package v1alpha1 holds rotor's rotation document, group rotor.dev, version v1alpha1.
//
// A SecretRotation is one batch of a rotation: the consumers of one Secret family in one
// namespace moving to one target version (or, for a rollback, back to the versions the
// rotation it reverses moved them from). Its spec is what was asked; its status is the
// journal the engine keeps while it advances the rotation one step at a time: before
// every write to the cluster the status says what the engine is about to do (Intent), so
// a run killed at any point leaves a document from which a later run knows what was done
// and what to undo.
//
// The same document lives in two stores: the CLI keeps it as versioned JSON inside a
// ConfigMap (no cluster-wide install needed), and the controller as the status of the
// SecretRotation custom resource generated from these types. The types follow the
// kubebuilder conventions (JSON tags, metav1 times and conditions, no free-form maps) so
// controller-gen can generate the CRD and the deep copies.
//
// +kubebuilder:object:generate=true
// +groupName=rotor.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group and Version of the rotation API.
const (
	Group   = "rotor.dev"
	Version = "v1alpha1"
	// Kind is the rotation document's kind.
	Kind = "SecretRotation"
)

// GroupVersion is rotor.dev/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// APIVersion is "rotor.dev/v1alpha1".
var APIVersion = GroupVersion.String()
