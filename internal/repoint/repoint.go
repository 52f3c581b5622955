// Package repoint changes which version of a Secret family a live object names. It
// sends one JSON patch per object: for every reference a "test" of the old name and a
// "replace" with the new one, at the reference's exact JSON pointer, plus the
// annotation recording where the object came from. Nothing else in the object is
// touched, so a concurrent change to other fields (an image, the replica count)
// survives; if the object moved under the patch (a test fails), it is re-read and
// re-planned.
package repoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/secretref"
)

// FieldManager is the field manager of every rotor write.
const FieldManager = "rotor"

// AnnotationPrefix begins the annotation that records, per family, the version an
// object named before rotor last re-pointed it.
const AnnotationPrefix = "previous-version.rotor.dev/"

// AnnotationKey is the "came from" annotation of fam on a re-pointed object.
func AnnotationKey(fam string) string { return AnnotationPrefix + family.LabelValue(fam) }

// resource is the API resource of a kind rotor re-points (kinds.Patch in the
// registry).
func resource(kind string) (schema.GroupVersionResource, error) {
	k := kinds.Lookup(kind)
	if k == nil || k.Repoint != kinds.Patch {
		return schema.GroupVersionResource{}, fmt.Errorf("rotor cannot re-point a %s", kind)
	}
	return k.GVR(), nil
}

// Target is one object to re-point.
type Target struct {
	Kind, Namespace, Name string
}

func (t Target) String() string { return t.Kind + "/" + t.Name }

// Change is one reference that moves.
type Change struct {
	Path    string
	Pointer string
	// Prefix is text the field holds before the name ("namespace/" in an annotation
	// value); the field changes from Prefix+From to Prefix+To.
	Prefix   string
	From, To string
	Keys     []string
	Optional bool
}

// Result is what a re-point did (or, planned only, would do).
type Result struct {
	Target  Target
	Changes []Change
	// Previous is the version the object named before (the first reference's); ""
	// when nothing changed.
	Previous string
	// Recorded is the annotation value before the patch ("came from" of the previous
	// re-point).
	Recorded string
	// Generation is the object's metadata.generation after the patch.
	Generation int64
}

// Unchanged reports whether every reference already named the target.
func (r *Result) Unchanged() bool { return len(r.Changes) == 0 }

// Repointer re-points objects with a dynamic client.
type Repointer struct {
	Dynamic dynamic.Interface
	// Attempts bounds re-reads when the object moves under a patch; 5 when zero.
	Attempts int
}

// Get reads a target.
func (r *Repointer) Get(ctx context.Context, t Target) (*unstructured.Unstructured, error) {
	gvr, err := resource(t.Kind)
	if err != nil {
		return nil, err
	}
	return r.Dynamic.Resource(gvr).Namespace(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
}

// Plan returns the changes that would move every reference of obj to a version of fam
// to the Secret named to.
func Plan(obj *unstructured.Unstructured, fam, to string) *Result {
	return PlanNames(obj, fam, to, false)
}

// Names reports whether name is one of fam's Secrets a rotation moves consumers away
// from: a version, or with unversioned also the Secret named exactly fam (adoption).
func Names(fam, name string, unversioned bool) bool {
	if unversioned && name == fam {
		return true
	}
	_, ok := family.ParseIn(fam, name)
	return ok
}

// PlanNames is Plan, also moving references to the unversioned Secret named fam when
// unversioned is set (the migration to versions, rotor adopt).
func PlanNames(obj *unstructured.Unstructured, fam, to string, unversioned bool) *Result {
	res := &Result{
		Target:   Target{Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()},
		Recorded: obj.GetAnnotations()[AnnotationKey(fam)],
	}
	kinds.Walk(obj.GetKind(), secretref.MapNode(obj.Object), func(ref secretref.Ref) bool {
		if !Names(fam, ref.Name, unversioned) || ref.Pointer == "" {
			return true
		}
		if res.Previous == "" {
			res.Previous = ref.Name
		}
		if ref.Name != to {
			res.Changes = append(res.Changes, Change{Path: ref.Path, Pointer: ref.Pointer, Prefix: ref.Prefix, From: ref.Name, To: to,
				Keys: ref.Keys, Optional: ref.Optional})
		}
		return true
	})
	if res.Unchanged() {
		res.Previous = ""
	}
	return res
}

// Options tune Apply.
type Options struct {
	// DryRun sends the patch with dryRun=All.
	DryRun bool
	// Annotate records the previous version on the object (rollouts do; a rollback
	// records the version it leaves, so a second rollback goes forward again).
	Annotate bool
	// Restore sets the annotation to Annotation exactly ("" removes it): an automatic
	// rollback puts back what the object said before the failed rotation.
	Restore    bool
	Annotation string
	// Unversioned also moves references to the unversioned Secret named like the
	// family (PlanNames).
	Unversioned bool
	// Seen is the object as the caller just read it, or nil. Apply patches it without
	// reading it again, on condition that it has not changed since (its
	// resourceVersion is tested in the patch); if it has, Apply reads it again.
	Seen *unstructured.Unstructured
}

// Apply re-points t: every reference to a version of fam names to afterwards. It
// re-reads and re-plans when the object changed under the patch.
func (r *Repointer) Apply(ctx context.Context, t Target, fam, to string, o Options) (*Result, error) {
	gvr, err := resource(t.Kind)
	if err != nil {
		return nil, err
	}
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	var lastErr error
	seen := o.Seen
	if seen != nil && seen.GetResourceVersion() == "" {
		seen = nil // nothing to test the patch against
	}
	for i := 0; i < attempts; i++ {
		obj, fresh := seen, seen == nil
		seen = nil
		if fresh {
			if obj, err = r.Dynamic.Resource(gvr).Namespace(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{}); err != nil {
				return nil, fmt.Errorf("reading %s: %w", t, err)
			}
		}
		plan := PlanNames(obj, fam, to, o.Unversioned)
		if plan.Unchanged() {
			if !fresh {
				continue // the caller's copy may be older than the object: read it
			}
			plan.Generation = obj.GetGeneration()
			return plan, nil
		}
		ops := patchOps(obj, plan, fam, o)
		if !fresh {
			// The caller's copy may be older than the object: the patch applies only
			// to the version it was built from.
			ops = append([]op{{Op: "test", Path: "/metadata/resourceVersion", Value: obj.GetResourceVersion()}}, ops...)
		}
		patch, err := json.Marshal(ops)
		if err != nil {
			return nil, err
		}
		opts := metav1.PatchOptions{FieldManager: FieldManager}
		if o.DryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		out, err := r.Dynamic.Resource(gvr).Namespace(t.Namespace).Patch(ctx, t.Name, types.JSONPatchType, patch, opts)
		if err == nil {
			plan.Generation = out.GetGeneration()
			return plan, nil
		}
		if !movedUnderPatch(err) {
			return nil, fmt.Errorf("re-pointing %s to %s: %w", t, to, err)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(i*20) * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("re-pointing %s: it kept changing under the patch (%d attempts): %w", t, attempts, lastErr)
}

// movedUnderPatch reports a JSON patch whose test failed or whose path vanished: the
// object changed between read and patch. The API server answers such a patch with 422
// Invalid and a generic message, nothing more (apiserver's jsonPatcher discards the
// patch library's error); an object the patch made invalid gets 422 with its field
// errors instead.
func movedUnderPatch(err error) bool {
	if apierrors.IsConflict(err) {
		return true
	}
	if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) && !isUnprocessable(err) {
		return false
	}
	msg := err.Error()
	return msg == patchNotApplied || strings.Contains(msg, "test") || strings.Contains(msg, "doc is missing") || strings.Contains(msg, "unable to find")
}

// patchNotApplied is the API server's whole message for a JSON patch that does not
// apply to the object (apimachinery's NewGenericServerResponse for 422).
const patchNotApplied = "the server rejected our request due to an error in our request"

func isUnprocessable(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status) && status.Status().Code == http.StatusUnprocessableEntity
}

type op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Patch builds the JSON patch for plan: test and replace per reference, and the
// "came from" annotation as o says.
func Patch(obj *unstructured.Unstructured, plan *Result, fam string, o Options) ([]byte, error) {
	return json.Marshal(patchOps(obj, plan, fam, o))
}

// patchOps are Patch's operations.
func patchOps(obj *unstructured.Unstructured, plan *Result, fam string, o Options) []op {
	var ops []op
	for _, c := range plan.Changes {
		ops = append(ops, op{Op: "test", Path: c.Pointer, Value: c.Prefix + c.From}, op{Op: "replace", Path: c.Pointer, Value: c.Prefix + c.To})
	}
	key := AnnotationKey(fam)
	_, present := obj.GetAnnotations()[key]
	value, set := "", false
	switch {
	case o.Restore && o.Annotation == "" && present:
		ops = append(ops, op{Op: "remove", Path: "/metadata/annotations/" + escape(key)})
	case o.Restore && o.Annotation != "":
		value, set = o.Annotation, true
	case !o.Restore && o.Annotate && plan.Previous != "":
		value, set = plan.Previous, true
	}
	if set {
		if obj.GetAnnotations() == nil {
			ops = append(ops, op{Op: "add", Path: "/metadata/annotations", Value: map[string]string{key: value}})
		} else {
			ops = append(ops, op{Op: "add", Path: "/metadata/annotations/" + escape(key), Value: value})
		}
	}
	return ops
}

func escape(s string) string { return secretref.EscapePointer(s) }
