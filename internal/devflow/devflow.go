// Package devflow is the rotation of an unversioned environment (rotor.yaml's
// `versioned: false`, usually dev: "break things and learn"): the data of the one
// Secret named like the family is replaced in place, and the workloads that name it
// are restarted so their pods read the new data, as `kubectl rollout restart` does
// (the pod template annotation kubectl.kubernetes.io/restartedAt). There is no version
// to roll back to: that is what versioned environments are for.
//
// The package never prints and never returns a value of the Secret.
package devflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/secretref"
)

// RestartedAtAnnotation is kubectl's restart annotation on a pod template.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// Annotations rotor puts on the Secret it replaced.
const (
	AnnotationReplacedBy = "rotor.dev/replaced-by"
	AnnotationReplacedAt = "rotor.dev/replaced-at"
)

// Flow replaces and restarts.
type Flow struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// Consumers finds the consumers of the family's unversioned Secret.
	Consumers rollout.UnversionedFinder
	Clock     clock.Clock
}

// Replaced says what Replace did.
type Replaced struct {
	// Created: the Secret did not exist and was created.
	Created bool
	// Keys are the data keys now, sorted; Removed those that are gone.
	Keys, Removed []string
}

// Current reads the data of the Secret named fam ("" map when it does not exist): the
// base of --from-previous.
func (f *Flow) Current(ctx context.Context, namespace, fam string) (map[string][]byte, error) {
	s, err := f.Client.CoreV1().Secrets(namespace).Get(ctx, fam, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s in namespace %q: %w", fam, namespace, err)
	}
	return s.Data, nil
}

// Replace sets the data of the Secret named fam to data (every key: keys not in data
// are removed), creating it when it does not exist. An immutable Secret is refused.
// The write is a JSON patch tested against the resourceVersion it read, retried when
// the Secret changed in between.
func (f *Flow) Replace(ctx context.Context, namespace, fam string, data map[string][]byte, by string) (*Replaced, error) {
	secrets := f.Client.CoreV1().Secrets(namespace)
	at := f.Clock.Now().UTC().Format(time.RFC3339)
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := secrets.Get(ctx, fam, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: fam, Namespace: namespace,
					Annotations: map[string]string{family.AnnotationFamily: fam, AnnotationReplacedBy: by, AnnotationReplacedAt: at}},
				Type: corev1.SecretTypeOpaque, Data: data,
			}
			_, err := secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: repoint.FieldManager})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("creating Secret %s in namespace %q: %w", fam, namespace, err)
			}
			return &Replaced{Created: true, Keys: sortedKeys(data)}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading Secret %s in namespace %q: %w", fam, namespace, err)
		}
		if cur.Immutable != nil && *cur.Immutable {
			return nil, fmt.Errorf("the Secret %s in namespace %q is immutable, so its data cannot be replaced in place: make versions of it instead (rotor.yaml: versioned: true, then rotor adopt %s)", fam, namespace, fam)
		}
		patch, err := replacePatch(cur, data, by, at)
		if err != nil {
			return nil, err
		}
		_, err = secrets.Patch(ctx, fam, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: repoint.FieldManager})
		if err == nil {
			var removed []string
			for k := range cur.Data {
				if _, ok := data[k]; !ok {
					removed = append(removed, k)
				}
			}
			sort.Strings(removed)
			return &Replaced{Keys: sortedKeys(data), Removed: removed}, nil
		}
		if !apierrors.IsInvalid(err) && !apierrors.IsConflict(err) && !strings.Contains(err.Error(), "test") {
			// Never echo the patch: it holds the values.
			return nil, fmt.Errorf("replacing the data of Secret %s in namespace %q: %s", fam, namespace, reasonOf(err))
		}
	}
	return nil, fmt.Errorf("replacing the data of Secret %s in namespace %q: it kept changing under the write; try again", fam, namespace)
}

func replacePatch(cur *corev1.Secret, data map[string][]byte, by, at string) ([]byte, error) {
	ops := []map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": cur.ResourceVersion},
		{"op": "add", "path": "/data", "value": data},
	}
	if cur.Annotations == nil {
		ops = append(ops, map[string]any{"op": "add", "path": "/metadata/annotations", "value": map[string]string{AnnotationReplacedBy: by, AnnotationReplacedAt: at}})
	} else {
		ops = append(ops,
			map[string]any{"op": "add", "path": "/metadata/annotations/" + secretref.EscapePointer(AnnotationReplacedBy), "value": by},
			map[string]any{"op": "add", "path": "/metadata/annotations/" + secretref.EscapePointer(AnnotationReplacedAt), "value": at})
	}
	if cur.StringData != nil {
		ops = append(ops, map[string]any{"op": "remove", "path": "/stringData"})
	}
	return json.Marshal(ops)
}

// reasonOf is an API error's reason without its details (which could quote the
// request).
func reasonOf(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		return fmt.Sprintf("%s (HTTP %d)", s.Reason, s.Code)
	}
	return err.Error()
}

// Restart is one consumer of the Secret and what happened to it.
type Restart struct {
	rollout.Consumer
	// Restarted: its pod template was annotated, so it rolls out new pods.
	Restarted bool
	// Note says when it takes the new data otherwise.
	Note string
}

// Restart restarts every workload in namespace whose pod template names the Secret fam
// (by kubectl's restart annotation, at the time given) and reports the others with
// when they see the new data.
func (f *Flow) Restart(ctx context.Context, namespace, fam string) ([]Restart, error) {
	consumers, err := f.Consumers.ConsumersWithUnversioned(ctx, namespace, fam)
	if err != nil {
		return nil, err
	}
	at := f.Clock.Now().UTC().Format(time.RFC3339)
	var out []Restart
	for _, c := range consumers {
		k := kinds.Lookup(c.Kind)
		if k == nil {
			continue
		}
		r := Restart{Consumer: c}
		if c.Immutable {
			r.Note = "keeps the old data until it is recreated (" + c.Note + ")"
			out = append(out, r)
			continue
		}
		obj, err := f.Dynamic.Resource(k.GVR()).Namespace(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
		if err != nil {
			return out, fmt.Errorf("reading %s: %w", c.Target, err)
		}
		if !namesSecret(obj, fam) {
			continue // a consumer of a version, not of the unversioned Secret
		}
		template, ok := templateOf(k)
		if !k.Rolls || !ok {
			r.Note = "reads the Secret when it is used: " + k.Effect
			out = append(out, r)
			continue
		}
		patch, err := json.Marshal(nested(append(template, "metadata", "annotations"), map[string]any{RestartedAtAnnotation: at}))
		if err != nil {
			return out, err
		}
		if _, err := f.Dynamic.Resource(k.GVR()).Namespace(c.Namespace).Patch(ctx, c.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: repoint.FieldManager}); err != nil {
			return out, fmt.Errorf("restarting %s: %w", c.Target, err)
		}
		r.Restarted = true
		out = append(out, r)
	}
	return out, nil
}

// namesSecret reports whether obj names the Secret called exactly name.
func namesSecret(obj *unstructured.Unstructured, name string) bool {
	found := false
	kinds.Walk(obj.GetKind(), secretref.MapNode(obj.Object), func(ref secretref.Ref) bool {
		found = ref.Name == name
		return !found
	})
	return found
}

// templateOf is the path of a kind's pod template (its pod spec's parent).
func templateOf(k *kinds.Kind) ([]string, bool) {
	p, ok := strings.CutSuffix(k.PodSpec, ".spec")
	if !ok || p == "" {
		return nil, false
	}
	return strings.Split(p, "."), true
}

func nested(path []string, leaf any) map[string]any {
	v := leaf
	for i := len(path) - 1; i >= 0; i-- {
		v = map[string]any{path[i]: v}
	}
	return v.(map[string]any)
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
