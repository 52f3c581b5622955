// Package ownership answers whether a SecretRotation owns a Secret family in a
// namespace — the controller drives that family there — and changes what the
// SecretRotation asks for. The CLI asks before it re-points anything, so the CLI and
// the controller never fight over consumers: `rotor rollout` and `rotor rollback` on an
// owned family change the SecretRotation's spec.target instead, and the controller
// carries the change out.
//
// A cluster without the SecretRotation CRD, or a user who may not read
// SecretRotations, has no owners: the CLI then works alone, as before the controller.
package ownership

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/repoint"
)

// GVR is the SecretRotation resource.
var GVR = schema.GroupVersionResource{Group: v1alpha1.Group, Version: v1alpha1.Version, Resource: "secretrotations"}

// Finder finds and changes owning SecretRotations.
type Finder struct {
	Dynamic dynamic.Interface
}

// Owners are the SecretRotations of fam in namespace ("" for every namespace), the
// owner of each namespace first (the oldest, as the controller decides). None when
// the CRD is not installed or the caller may not list them.
func (f *Finder) Owners(ctx context.Context, namespace, fam string) ([]*v1alpha1.SecretRotation, error) {
	list, err := f.Dynamic.Resource(GVR).Namespace(namespace).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err), meta.IsNoMatchError(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("looking for SecretRotations of %q: %w", fam, err)
	}
	var out []*v1alpha1.SecretRotation
	for i := range list.Items {
		rot := &v1alpha1.SecretRotation{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, rot); err != nil {
			return nil, fmt.Errorf("reading SecretRotation %s/%s: %w", list.Items[i].GetNamespace(), list.Items[i].GetName(), err)
		}
		if rot.Spec.Family == fam && rot.DeletionTimestamp == nil {
			out = append(out, rot)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	// Keep the owner of each namespace.
	var owners []*v1alpha1.SecretRotation
	for _, r := range out {
		if len(owners) == 0 || owners[len(owners)-1].Namespace != r.Namespace {
			owners = append(owners, r)
		}
	}
	return owners, nil
}

// Owner is the SecretRotation that owns fam in namespace, or nil.
func (f *Finder) Owner(ctx context.Context, namespace, fam string) (*v1alpha1.SecretRotation, error) {
	owners, err := f.Owners(ctx, namespace, fam)
	if err != nil || len(owners) == 0 {
		return nil, err
	}
	return owners[0], nil
}

// Retarget sets rot's spec.target, guarded by rot's resourceVersion. resume also
// clears spec.paused, so a rollback asked for after a pause (an abort) is carried out.
// dryRun sends it with dryRun=All.
func (f *Finder) Retarget(ctx context.Context, rot *v1alpha1.SecretRotation, target string, resume, dryRun bool) (*v1alpha1.SecretRotation, error) {
	spec := map[string]any{"target": target}
	if resume {
		spec["paused"] = nil
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": rot.ResourceVersion},
		"spec":     spec,
	})
	if err != nil {
		return nil, err
	}
	opts := metav1.PatchOptions{FieldManager: repoint.FieldManager}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	obj, err := f.Dynamic.Resource(GVR).Namespace(rot.Namespace).Patch(ctx, rot.Name, types.MergePatchType, patch, opts)
	if apierrors.IsConflict(err) {
		return nil, fmt.Errorf("SecretRotation %s in namespace %q changed while rotor read it; run the command again", rot.Name, rot.Namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("setting spec.target of SecretRotation %s in namespace %q: %w", rot.Name, rot.Namespace, err)
	}
	out := &v1alpha1.SecretRotation{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RollbackTarget is the version a rollback of rot's family goes back to: the version
// its consumers came from in the rotation its status journals. "" when the journal
// does not say (no rotation yet, or consumers that came from different versions).
func RollbackTarget(rot *v1alpha1.SecretRotation) string {
	from := ""
	for _, c := range rot.Status.Consumers {
		if c.Skip || c.From == "" || c.From == c.To {
			continue
		}
		if from != "" && from != c.From {
			return ""
		}
		from = c.From
	}
	return from
}
