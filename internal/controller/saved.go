package controller

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rotation"
)

// lastSaved remembers the resourceVersion of the status this process last saved for
// each SecretRotation, so a reconcile can tell whether the informer's copy has seen
// this process's own writes.
type lastSaved struct{ m sync.Map } // types.NamespacedName → resourceVersion

func (l *lastSaved) set(rot *v1alpha1.SecretRotation) {
	l.m.Store(types.NamespacedName{Namespace: rot.Namespace, Name: rot.Name}, rot.ResourceVersion)
}

func (l *lastSaved) get(key types.NamespacedName) (string, bool) {
	v, ok := l.m.Load(key)
	if !ok {
		return "", false
	}
	return v.(string), true
}

func (l *lastSaved) forget(key types.NamespacedName) { l.m.Delete(key) }

// savingStore is a rotation.Store that records what it saved in a lastSaved.
type savingStore struct {
	rotation.Store
	saved *lastSaved
}

func (s savingStore) Create(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	out, err := s.Store.Create(ctx, rot)
	if err == nil {
		s.saved.set(out)
	}
	return out, err
}

func (s savingStore) Update(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	out, err := s.Store.Update(ctx, rot)
	if err == nil {
		s.saved.set(out)
	}
	return out, err
}

// read returns the SecretRotation a reconcile starts from. A step must start from the
// resourceVersion its first save is fenced by: the informer's copy serves when it
// holds the status this process saved last (it has seen this process's writes; a
// write by another since, not yet in the cache, fails that save's fence, and the
// retry reads the API server), otherwise the API server is asked. A new version of a
// family that waited since its last rotation starts without that round trip.
func (r *Reconciler) read(ctx context.Context, key types.NamespacedName) (*v1alpha1.SecretRotation, error) {
	if rv, ok := r.saved.get(key); ok {
		cached := &v1alpha1.SecretRotation{}
		if err := r.client.Get(ctx, key, cached); err == nil && cached.ResourceVersion == rv {
			return cached, nil
		}
	}
	rot := &v1alpha1.SecretRotation{}
	if err := r.fresh.Get(ctx, key, rot); err != nil {
		return nil, err
	}
	return rot, nil
}
