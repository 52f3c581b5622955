// Package journal stores rotation documents (api/v1alpha1 SecretRotation) for drivers
// that run without a cluster-wide install: one ConfigMap per rotation, in the
// rotation's namespace, holding the document as versioned JSON. The ConfigMap's
// resourceVersion is the rotation's: every Update is conditional on it, so a driver that
// lost the race to save stops writing (see rotation.ConflictError).
//
// Writes are retried on transient API errors within the caller's context. An update
// whose answer was lost but which the server applied is recognised when the retry meets
// a conflict: the stored document is then exactly the one written.
//
// Records written by rotor before the journal existed ("rotor-rotation-*" ConfigMaps
// with a record.json) are read too, converted, so history, cleanup's retention clock
// and rollback see them. Updating one rewrites it in the journal's format.
//
// Journals hold Secret names, never values.
package journal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/apiretry"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/rotation"
)

// Labels and keys of journal ConfigMaps.
const (
	// LabelRecord marks rotation records and journals (value "rotation").
	LabelRecord = "rotor.dev/record"
	recordValue = "rotation"
	// LabelPhase is the rotation's phase, so non-final rotations can be selected.
	LabelPhase = "rotor.dev/phase"
	// LabelRun groups the batches of one command.
	LabelRun = "rotor.dev/run"
	// DataKey holds the document; legacyKey the records of earlier versions.
	DataKey    = "rotation.json"
	legacyKey  = "record.json"
	namePrefix = "rotor-rotation-"
)

// Store is the ConfigMap store. It implements rotation.Store.
type Store struct {
	Client kubernetes.Interface
	Clock  clock.Clock
	// Retry retries transient failures; the zero value uses the real clock.
	Retry apiretry.Policy
}

var _ rotation.Store = (*Store)(nil)

// Name is the ConfigMap name of a rotation of fam started at t.
func Name(fam string, t time.Time) string {
	sum := sha256.Sum256([]byte(fam))
	return namePrefix + hex.EncodeToString(sum[:])[:10] + "-" + t.UTC().Format("20060102150405") + fmt.Sprintf("%03d", t.Nanosecond()/1e6)
}

func (s *Store) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// Get implements rotation.Store.
func (s *Store) Get(ctx context.Context, namespace, name string) (*v1alpha1.SecretRotation, error) {
	var cm *corev1.ConfigMap
	err := s.Retry.Do(ctx, func(ctx context.Context) error {
		var err error
		cm, err = s.Client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s in namespace %q", rotation.ErrNotFound, name, namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("reading rotation %s in namespace %q: %w", name, namespace, err)
	}
	return Decode(cm)
}

// Create implements rotation.Store. A name is chosen from the family and the clock
// when rot has none; a name already taken (two rotations in the same millisecond) moves
// on by a millisecond.
func (s *Store) Create(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	if rot.Namespace == "" {
		return nil, errors.New("journal: a rotation needs a namespace")
	}
	pick := rot.Name == ""
	t := s.now()
	for attempt := 0; ; attempt++ {
		doc := rot.DeepCopy()
		if pick {
			doc.Name = Name(doc.Spec.Family, t.Add(time.Duration(attempt)*time.Millisecond))
		}
		cm, err := encode(doc)
		if err != nil {
			return nil, err
		}
		var created *corev1.ConfigMap
		retried := false
		err = s.Retry.Do(ctx, func(ctx context.Context) error {
			var err error
			created, err = s.Client.CoreV1().ConfigMaps(doc.Namespace).Create(ctx, cm, metav1.CreateOptions{FieldManager: "rotor"})
			if apiretry.Transient(err) {
				retried = true
			}
			if apierrors.IsAlreadyExists(err) && retried {
				// A retried create whose first attempt was applied finds its own document.
				if got, gerr := s.Client.CoreV1().ConfigMaps(doc.Namespace).Get(ctx, cm.Name, metav1.GetOptions{}); gerr == nil && got.Data[DataKey] == cm.Data[DataKey] {
					created = got
					return nil
				}
			}
			return err
		})
		if apierrors.IsAlreadyExists(err) && pick && attempt < 100 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("recording the rotation in namespace %q: %w", doc.Namespace, err)
		}
		return Decode(created)
	}
}

// Update implements rotation.Store.
func (s *Store) Update(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	if rot.ResourceVersion == "" {
		return nil, errors.New("journal: an update needs the resourceVersion it was read with")
	}
	cm, err := encode(rot)
	if err != nil {
		return nil, err
	}
	cm.ResourceVersion = rot.ResourceVersion
	retried := false
	var updated *corev1.ConfigMap
	err = s.Retry.Do(ctx, func(ctx context.Context) error {
		var err error
		updated, err = s.Client.CoreV1().ConfigMaps(rot.Namespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "rotor"})
		if apierrors.IsConflict(err) && retried {
			// Perhaps our earlier attempt was applied and only its answer was lost.
			got, gerr := s.Client.CoreV1().ConfigMaps(rot.Namespace).Get(ctx, rot.Name, metav1.GetOptions{})
			if gerr == nil && got.Data[DataKey] == cm.Data[DataKey] {
				updated = got
				return nil
			}
		}
		if apiretry.Transient(err) {
			retried = true
		}
		return err
	})
	switch {
	case apierrors.IsConflict(err):
		return nil, &rotation.ConflictError{Namespace: rot.Namespace, Name: rot.Name}
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%w: %s in namespace %q (deleted while it ran)", rotation.ErrNotFound, rot.Name, rot.Namespace)
	case err != nil:
		return nil, fmt.Errorf("saving rotation %s in namespace %q: %w", rot.Name, rot.Namespace, err)
	}
	return Decode(updated)
}

// List implements rotation.Store; records of earlier rotor versions are included.
func (s *Store) List(ctx context.Context, namespace, fam string) ([]*v1alpha1.SecretRotation, error) {
	sel := labels.Set{LabelRecord: recordValue, family.LabelFamily: family.LabelValue(fam)}.AsSelector().String()
	var out []*v1alpha1.SecretRotation
	opts := metav1.ListOptions{LabelSelector: sel, Limit: 500}
	for {
		var list *corev1.ConfigMapList
		err := s.Retry.Do(ctx, func(ctx context.Context) error {
			var err error
			list, err = s.Client.CoreV1().ConfigMaps(namespace).List(ctx, opts)
			return err
		})
		if err != nil {
			if apierrors.IsForbidden(err) {
				return nil, fmt.Errorf("cannot read rotation journals (configmaps) in namespace %q: %w", namespace, err)
			}
			return nil, err
		}
		for i := range list.Items {
			rot, err := Decode(&list.Items[i])
			if err != nil {
				return nil, err
			}
			if rot.Spec.Family == fam {
				out = append(out, rot)
			}
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	sort.SliceStable(out, func(i, j int) bool { return Started(out[i]).Before(Started(out[j])) })
	return out, nil
}

// Delete removes a rotation's ConfigMap, guarded by its resourceVersion.
func (s *Store) Delete(ctx context.Context, rot *v1alpha1.SecretRotation) error {
	rv, uid := rot.ResourceVersion, rot.UID
	err := s.Retry.Do(ctx, func(ctx context.Context) error {
		return s.Client.CoreV1().ConfigMaps(rot.Namespace).Delete(ctx, rot.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{ResourceVersion: &rv, UID: &uid}})
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Started is when a rotation started (or was created, before it started).
func Started(r *v1alpha1.SecretRotation) time.Time {
	if r.Status.Started != nil {
		return r.Status.Started.Time
	}
	return r.CreationTimestamp.Time
}

func encode(rot *v1alpha1.SecretRotation) (*corev1.ConfigMap, error) {
	doc := rot.DeepCopy()
	doc.APIVersion, doc.Kind = v1alpha1.APIVersion, v1alpha1.Kind
	// The ConfigMap carries the object's own metadata; the document keeps only what
	// identifies it.
	doc.ObjectMeta = metav1.ObjectMeta{Name: rot.Name, Namespace: rot.Namespace, Labels: rot.Labels}
	for k, v := range rot.Annotations {
		if k != AnnotationLegacy {
			if doc.Annotations == nil {
				doc.Annotations = map[string]string{}
			}
			doc.Annotations[k] = v
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	lbl := map[string]string{
		LabelRecord:           recordValue,
		family.LabelFamily:    family.LabelValue(rot.Spec.Family),
		family.LabelManagedBy: family.ManagedByValue,
	}
	if rot.Status.Phase != "" {
		lbl[LabelPhase] = string(rot.Status.Phase)
	}
	if rot.Spec.Run != "" {
		lbl[LabelRun] = rot.Spec.Run
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:        rot.Name,
			Namespace:   rot.Namespace,
			Labels:      lbl,
			Annotations: map[string]string{family.AnnotationFamily: rot.Spec.Family},
		},
		Data: map[string]string{DataKey: string(b)},
	}, nil
}

// Decode reads the rotation a ConfigMap holds (a journal, or a record of an earlier
// rotor version).
func Decode(cm *corev1.ConfigMap) (*v1alpha1.SecretRotation, error) {
	var rot v1alpha1.SecretRotation
	switch {
	case cm.Data[DataKey] != "":
		if err := json.Unmarshal([]byte(cm.Data[DataKey]), &rot); err != nil {
			return nil, fmt.Errorf("reading rotation journal %s/%s: %w", cm.Namespace, cm.Name, err)
		}
		if rot.APIVersion != v1alpha1.APIVersion {
			return nil, fmt.Errorf("rotation journal %s/%s has apiVersion %q, which this rotor does not read (it reads %s): use a newer rotor", cm.Namespace, cm.Name, rot.APIVersion, v1alpha1.APIVersion)
		}
	case cm.Data[legacyKey] != "":
		legacy, err := fromLegacy(cm)
		if err != nil {
			return nil, err
		}
		rot = *legacy
	default:
		return nil, fmt.Errorf("ConfigMap %s/%s is labelled as a rotation journal but holds none", cm.Namespace, cm.Name)
	}
	rot.APIVersion, rot.Kind = v1alpha1.APIVersion, v1alpha1.Kind
	rot.Name, rot.Namespace = cm.Name, cm.Namespace
	rot.ResourceVersion, rot.UID, rot.CreationTimestamp = cm.ResourceVersion, cm.UID, cm.CreationTimestamp
	return &rot, nil
}
