package journal

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/apiretry"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rotation"
)

// StatusStore keeps rotations as SecretRotation resources: the journal is the
// resource's status, written through the status subresource (so a driver never changes
// what the user asked in the spec), and the resource's resourceVersion is the fence:
// every Update is conditional on it. It is the controller's store; the CLI's is Store.
//
// Reads go through Reader when set (the controller's informer cache: a stale read only
// costs a conflict on the next save), else through Client.
type StatusStore struct {
	Client client.Client
	Reader client.Reader
	// Retry retries transient failures; the zero value uses the real clock.
	Retry apiretry.Policy
}

var _ rotation.Store = (*StatusStore)(nil)

func (s *StatusStore) reader() client.Reader {
	if s.Reader != nil {
		return s.Reader
	}
	return s.Client
}

// Get implements rotation.Store.
func (s *StatusStore) Get(ctx context.Context, namespace, name string) (*v1alpha1.SecretRotation, error) {
	rot := &v1alpha1.SecretRotation{}
	err := s.Retry.Do(ctx, func(ctx context.Context) error {
		return s.reader().Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, rot)
	})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: SecretRotation %s in namespace %q", rotation.ErrNotFound, name, namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("reading SecretRotation %s in namespace %q: %w", name, namespace, err)
	}
	return typed(rot), nil
}

// Create implements rotation.Store: the resource is created from rot's metadata and
// spec (named after the family when rot has no name), then its status is written.
func (s *StatusStore) Create(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	if rot.Namespace == "" {
		return nil, errors.New("journal: a rotation needs a namespace")
	}
	obj := rot.DeepCopy()
	obj.ResourceVersion, obj.Status = "", v1alpha1.RotationStatus{}
	if obj.Name == "" && obj.GenerateName == "" {
		obj.GenerateName = rot.Spec.Family + "-"
	}
	err := s.Retry.Do(ctx, func(ctx context.Context) error {
		return s.Client.Create(ctx, obj, client.FieldOwner(repoint.FieldManager))
	})
	if err != nil {
		return nil, fmt.Errorf("creating SecretRotation for %q in namespace %q: %w", rot.Spec.Family, rot.Namespace, err)
	}
	obj.Status = *rot.Status.DeepCopy()
	return s.Update(ctx, obj)
}

// Update implements rotation.Store. An update whose answer was lost but which the
// server applied is recognised when its retry meets a conflict: the stored status is
// then exactly the one written.
func (s *StatusStore) Update(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	if rot.ResourceVersion == "" {
		return nil, errors.New("journal: an update needs the resourceVersion it was read with")
	}
	var stored *v1alpha1.SecretRotation
	retried := false
	err := s.Retry.Do(ctx, func(ctx context.Context) error {
		obj := rot.DeepCopy()
		err := s.Client.Status().Update(ctx, obj, client.FieldOwner(repoint.FieldManager))
		if err == nil {
			stored = obj
			return nil
		}
		if apierrors.IsConflict(err) && retried {
			got := &v1alpha1.SecretRotation{}
			if gerr := s.Client.Get(ctx, client.ObjectKeyFromObject(rot), got); gerr == nil && equality.Semantic.DeepEqual(got.Status, rot.Status) {
				stored = got
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
		return nil, fmt.Errorf("%w: SecretRotation %s in namespace %q (deleted while it ran)", rotation.ErrNotFound, rot.Name, rot.Namespace)
	case err != nil:
		return nil, fmt.Errorf("saving the status of SecretRotation %s in namespace %q: %w", rot.Name, rot.Namespace, err)
	}
	return typed(stored), nil
}

// List implements rotation.Store.
func (s *StatusStore) List(ctx context.Context, namespace, fam string) ([]*v1alpha1.SecretRotation, error) {
	var list v1alpha1.SecretRotationList
	err := s.Retry.Do(ctx, func(ctx context.Context) error {
		return s.reader().List(ctx, &list, client.InNamespace(namespace))
	})
	if err != nil {
		return nil, fmt.Errorf("listing SecretRotations in namespace %q: %w", namespace, err)
	}
	var out []*v1alpha1.SecretRotation
	for i := range list.Items {
		if list.Items[i].Spec.Family == fam {
			out = append(out, typed(&list.Items[i]))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return Started(out[i]).Before(Started(out[j])) })
	return out, nil
}

// typed sets the type meta a client leaves empty on typed objects.
func typed(rot *v1alpha1.SecretRotation) *v1alpha1.SecretRotation {
	rot.APIVersion, rot.Kind = v1alpha1.APIVersion, v1alpha1.Kind
	return rot
}
