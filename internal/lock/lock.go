// Package lock keeps one rotation per family and namespace at a time, with a
// coordination.k8s.io Lease. A second run fails naming the holder and since when; a
// Lease left by a crashed run is taken over once it has expired (it is renewed while
// its holder runs).
package lock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/family"
)

// DefaultDuration is how long a Lease stays valid without renewal.
const DefaultDuration = 30 * time.Second

// HeldError says who holds the family's lock.
type HeldError struct {
	Family, Namespace, Holder string
	Since                     time.Time
	Expires                   time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("another rotation of %q in namespace %q is running: held by %s since %s (the lock expires %s unless renewed); wait for it to finish, or if it crashed, retry after the lock expires",
		e.Family, e.Namespace, e.Holder, e.Since.UTC().Format(time.RFC3339), e.Expires.UTC().Format(time.RFC3339))
}

// Locker takes family locks.
type Locker struct {
	Client   kubernetes.Interface
	Clock    clock.Clock
	Duration time.Duration
	// Holder identifies this run (user, host, process).
	Holder string
}

// Lock is a held lock; Release it when done.
type Lock struct {
	l         *Locker
	namespace string
	name      string
	stop      chan struct{}
	done      chan struct{}
	once      sync.Once
	// TookOver is true when the lock was taken from an expired holder: the previous
	// run crashed or was killed.
	TookOver         bool
	PreviousHolder   string
	renewErrMu       sync.Mutex
	renewErr         error
	lastLease        *coordinationv1.Lease
	releaseOnceError error
}

// LeaseName is the Lease of fam: its name is derived from the family so any length
// fits.
func LeaseName(fam string) string {
	sum := sha256.Sum256([]byte(fam))
	return "rotor-lock-" + hex.EncodeToString(sum[:])[:16]
}

// Acquire takes the lock of fam in namespace or returns a *HeldError.
func (l *Locker) Acquire(ctx context.Context, namespace, fam string) (*Lock, error) {
	d := l.duration()
	now := metav1.NewMicroTime(l.Clock.Now())
	name := LeaseName(fam)
	leases := l.Client.CoordinationV1().Leases(namespace)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   namespace,
			Labels:      map[string]string{family.LabelFamily: family.LabelValue(fam), family.LabelManagedBy: family.ManagedByValue},
			Annotations: map[string]string{family.AnnotationFamily: fam},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(l.Holder),
			LeaseDurationSeconds: ptr.To(int32(d / time.Second)),
			AcquireTime:          &now,
			RenewTime:            &now,
		},
	}
	lk := &Lock{l: l, namespace: namespace, name: name, stop: make(chan struct{}), done: make(chan struct{})}
	created, err := leases.Create(ctx, lease, metav1.CreateOptions{FieldManager: "rotor"})
	switch {
	case err == nil:
		lk.lastLease = created
	case apierrors.IsAlreadyExists(err):
		cur, err := leases.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading the rotation lock: %w", err)
		}
		if held := l.held(cur, fam); held != nil {
			return nil, held
		}
		// Expired or released: take it over, guarded by its resourceVersion so two
		// runs cannot both take it.
		lk.TookOver = cur.Spec.HolderIdentity != nil && *cur.Spec.HolderIdentity != ""
		if lk.TookOver {
			lk.PreviousHolder = *cur.Spec.HolderIdentity
		}
		next := cur.DeepCopy()
		next.Spec = lease.Spec
		updated, err := leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: "rotor"})
		if apierrors.IsConflict(err) {
			return nil, fmt.Errorf("another rotation of %q in namespace %q took the lock at the same moment; retry", fam, namespace)
		}
		if err != nil {
			return nil, fmt.Errorf("taking over the rotation lock: %w", err)
		}
		lk.lastLease = updated
	default:
		return nil, fmt.Errorf("taking the rotation lock (a Lease in namespace %q): %w", namespace, err)
	}
	go lk.renew()
	return lk, nil
}

func (l *Locker) duration() time.Duration {
	if l.Duration <= 0 {
		return DefaultDuration
	}
	return l.Duration
}

// held returns a HeldError when the Lease is held by someone and not expired.
func (l *Locker) held(lease *coordinationv1.Lease, fam string) *HeldError {
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" || lease.Spec.RenewTime == nil {
		return nil
	}
	d := time.Duration(ptr.Deref(lease.Spec.LeaseDurationSeconds, 0)) * time.Second
	expires := lease.Spec.RenewTime.Add(d)
	if !l.Clock.Now().Before(expires) {
		return nil
	}
	since := lease.Spec.RenewTime.Time
	if lease.Spec.AcquireTime != nil {
		since = lease.Spec.AcquireTime.Time
	}
	return &HeldError{Family: fam, Namespace: lease.Namespace, Holder: *lease.Spec.HolderIdentity, Since: since, Expires: expires}
}

// renew keeps the Lease fresh until Release.
func (lk *Lock) renew() {
	defer close(lk.done)
	interval := lk.l.duration() / 3
	for {
		select {
		case <-lk.stop:
			return
		case <-lk.l.Clock.After(interval):
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		lease := lk.lastLease.DeepCopy()
		lease.Spec.RenewTime = ptr.To(metav1.NewMicroTime(lk.l.Clock.Now()))
		updated, err := lk.l.Client.CoordinationV1().Leases(lk.namespace).Update(ctx, lease, metav1.UpdateOptions{FieldManager: "rotor"})
		cancel()
		lk.renewErrMu.Lock()
		if err == nil {
			lk.lastLease = updated
		}
		lk.renewErr = err
		lk.renewErrMu.Unlock()
	}
}

// Err reports the last renewal error: a lock that could not be renewed may have been
// taken by someone else.
func (lk *Lock) Err() error {
	lk.renewErrMu.Lock()
	defer lk.renewErrMu.Unlock()
	return lk.renewErr
}

// Release gives the lock up: the Lease is deleted, guarded by its UID so a lock taken
// over by someone else is left alone.
func (lk *Lock) Release(ctx context.Context) error {
	lk.once.Do(func() {
		close(lk.stop)
		<-lk.done
		err := lk.l.Client.CoordinationV1().Leases(lk.namespace).Delete(ctx, lk.name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &lk.lastLease.UID, ResourceVersion: &lk.lastLease.ResourceVersion},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			lk.releaseOnceError = fmt.Errorf("releasing the rotation lock: %w", err)
		}
	})
	return lk.releaseOnceError
}

// ErrHeld matches *HeldError with errors.As.
var ErrHeld = errors.New("rotation lock held")

// Is lets errors.Is(err, ErrHeld) match a HeldError.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }
