// Package lock keeps one rotation (or cleanup) per family and namespace at a time, with
// a coordination.k8s.io Lease, judged the way client-go's leader election judges one:
//
//   - Expiry is never decided by comparing this machine's clock with the holder's
//     renewTime (clocks of two machines disagree). An observer records, by its own
//     clock, when it last saw the Lease change (holder, renewTime, resourceVersion); the
//     Lease has expired only once it has not changed for its full duration since then.
//     A second run therefore watches a held Lease until it sees a renewal (the holder is
//     alive: refused, naming it) or until a whole duration passes without one (the
//     holder is dead: taken over, guarded by the resourceVersion).
//   - The holder renews every third of the duration. A renewal that fails because the
//     Lease was deleted or taken is a loss at once; one that fails for other reasons
//     (the API server down) is retried, and if no renewal succeeded for two thirds of
//     the duration the lock is lost, since others may consider it expired. A renewal
//     that timed out after the server applied it is recognised on the next attempt (the
//     Lease still names this holder) and is no loss.
//   - Losing the lock cancels the context from Lock.Context with a *LostError cause, so
//     the run stops writing.
//
// Durations are bounded (5 s to 10 min): shorter renews too often and expires under
// a busy API server; longer leaves a crashed run's family locked for too long.
package lock

import (
	"context"
	"crypto/rand"
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

	"github.com/rotor-project/rotor/internal/apiretry"
	"github.com/rotor-project/rotor/internal/family"
)

// Duration bounds.
const (
	DefaultDuration = 30 * time.Second
	MinDuration     = 5 * time.Second
	MaxDuration     = 10 * time.Minute
)

// DurationError is a lease duration out of bounds.
type DurationError struct {
	Got time.Duration
}

func (e *DurationError) Error() string {
	return fmt.Sprintf("lease duration %s is out of bounds: it must be between %s and %s", e.Got, MinDuration, MaxDuration)
}

// ValidateDuration checks a lease duration (0 means the default).
func ValidateDuration(d time.Duration) error {
	if d == 0 {
		return nil
	}
	if d < MinDuration || d > MaxDuration || d%time.Second != 0 {
		return &DurationError{Got: d}
	}
	return nil
}

// HeldError says who holds the family's lock.
type HeldError struct {
	Family, Namespace, Holder string
	Since                     time.Time
	// For is what the lock guards ("rotation" or "cleanup").
	For string
}

func (e *HeldError) Error() string {
	what := "a rotation"
	if e.For != "" {
		what = "a " + e.For
	}
	return fmt.Sprintf("another rotation of %q in namespace %q is running (%s holds the lock): held by %s since %s, and renewed while it runs; wait for it to finish (a run that was killed loses the lock once it stops renewing)",
		e.Family, e.Namespace, what, e.Holder, e.Since.UTC().Format(time.RFC3339))
}

// ErrHeld matches *HeldError with errors.Is.
var ErrHeld = errors.New("rotation lock held")

// Is lets errors.Is(err, ErrHeld) match a HeldError.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// LostError says the lock was lost while a run held it.
type LostError struct {
	Family, Namespace string
	Reason            string
}

func (e *LostError) Error() string {
	return fmt.Sprintf("lost the lock of %q in namespace %q (%s): stopped writing so that no two runs write at once", e.Family, e.Namespace, e.Reason)
}

// Locker takes family locks.
type Locker struct {
	Client   kubernetes.Interface
	Clock    clock.Clock
	Duration time.Duration
	// Holder identifies this run (user, host, process); a random part is added so two
	// processes never share an identity.
	Holder string
	// For says what the lock is taken for, in the Lease and in HeldError.
	For string

	idOnce sync.Once
	id     string
}

// Identity is this locker's holder identity: Holder and a random suffix.
func (l *Locker) Identity() string {
	l.idOnce.Do(func() {
		var b [4]byte
		_, _ = rand.Read(b[:])
		l.id = l.Holder + " #" + hex.EncodeToString(b[:])
	})
	return l.id
}

func (l *Locker) duration() time.Duration {
	if l.Duration <= 0 {
		return DefaultDuration
	}
	return l.Duration
}

// LeaseName is the Lease of fam: its name is derived from the family so any length
// fits.
func LeaseName(fam string) string {
	sum := sha256.Sum256([]byte(fam))
	return "rotor-lock-" + hex.EncodeToString(sum[:])[:16]
}

// Lock is a held lock; Release it when done.
type Lock struct {
	l         *Locker
	fam       string
	namespace string
	name      string
	// TookOver is true when the lock was taken from a holder that stopped renewing: a
	// run that crashed or was killed.
	TookOver       bool
	PreviousHolder string

	mu     sync.Mutex
	lease  *coordinationv1.Lease
	lost   *LostError
	lostCh chan struct{}
	// released ends with Release: the renewals stop, one in flight included.
	released context.Context
	release  context.CancelFunc
	done     chan struct{}
	once     sync.Once
}

// observation is what an observer last saw of a Lease, and when (by its own clock).
type observation struct {
	holder, renew, rv string
	at                time.Time
}

func observe(lease *coordinationv1.Lease, now time.Time) observation {
	o := observation{holder: ptr.Deref(lease.Spec.HolderIdentity, ""), rv: lease.ResourceVersion, at: now}
	if lease.Spec.RenewTime != nil {
		o.renew = lease.Spec.RenewTime.UTC().Format(time.RFC3339Nano)
	}
	return o
}

func (o observation) same(p observation) bool {
	return o.holder == p.holder && o.renew == p.renew && o.rv == p.rv
}

// Verdict is an observer's judgement of a Lease.
type Verdict int

// Verdicts.
const (
	// Free: nobody holds it (released, or never held).
	Free Verdict = iota
	// Alive: its holder renewed it while we watched.
	Alive
	// Unknown: held, and not yet watched for a full duration without change.
	Unknown
	// Expired: held, unchanged for a full duration by our clock.
	Expired
)

// judge decides from the first and the latest observation of a Lease. d is the Lease's
// own duration. Only the observer's clock is used.
func judge(first, last observation, d time.Duration, now time.Time) Verdict {
	switch {
	case last.holder == "":
		return Free
	case !first.same(last):
		return Alive
	case now.Sub(first.at) >= d:
		return Expired
	}
	return Unknown
}

func leaseDuration(lease *coordinationv1.Lease, def time.Duration) time.Duration {
	if s := ptr.Deref(lease.Spec.LeaseDurationSeconds, 0); s > 0 {
		return time.Duration(s) * time.Second
	}
	return def
}

// Acquire takes the lock of fam in namespace. When it is held, Acquire watches the
// Lease until it sees its holder renew it (returning a *HeldError) or until it stayed
// unchanged for its whole duration (taking it over: the holder died).
func (l *Locker) Acquire(ctx context.Context, namespace, fam string) (*Lock, error) {
	if err := ValidateDuration(l.Duration); err != nil {
		return nil, err
	}
	name := LeaseName(fam)
	leases := l.Client.CoordinationV1().Leases(namespace)
	lk := &Lock{l: l, fam: fam, namespace: namespace, name: name, lostCh: make(chan struct{}), done: make(chan struct{})}
	lk.released, lk.release = context.WithCancel(context.Background())
	var first *observation
	backoff := 100 * time.Millisecond
	// transient waits after a failure that says nothing about the lock (a 5xx, a lost
	// connection) and reports whether to look again: a create whose answer was lost
	// is then seen as this run's own Lease.
	transient := func(err error) bool {
		if !apiretry.Transient(err) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-l.Clock.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
		return true
	}
	for {
		now := l.Clock.Now()
		cur, err := leases.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			created, err := leases.Create(ctx, l.newLease(namespace, fam, now), metav1.CreateOptions{FieldManager: "rotor"})
			if apierrors.IsAlreadyExists(err) || transient(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("taking the rotation lock (a Lease in namespace %q): %w", namespace, err)
			}
			lk.lease = created
			go lk.renew()
			return lk, nil
		case err != nil:
			if transient(err) {
				continue
			}
			return nil, fmt.Errorf("reading the rotation lock (a Lease in namespace %q): %w", namespace, err)
		}
		obs := observe(cur, now)
		if first == nil {
			first = &obs
		}
		d := leaseDuration(cur, l.duration())
		verdict := judge(*first, obs, d, now)
		if obs.holder == l.Identity() {
			verdict = Free
		}
		switch verdict {
		case Alive:
			since := now
			if cur.Spec.AcquireTime != nil {
				since = cur.Spec.AcquireTime.Time
			}
			return nil, &HeldError{Family: fam, Namespace: namespace, Holder: holderName(obs.holder), Since: since, For: forOf(cur)}
		case Free, Expired:
			next := cur.DeepCopy()
			fresh := l.newLease(namespace, fam, now)
			next.Labels, next.Annotations, next.Spec = fresh.Labels, fresh.Annotations, fresh.Spec
			updated, err := leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: "rotor"})
			if apierrors.IsConflict(err) {
				first = nil // someone else moved first: judge afresh
				continue
			}
			if transient(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("taking over the rotation lock: %w", err)
			}
			if verdict == Expired {
				lk.TookOver, lk.PreviousHolder = true, holderName(obs.holder)
			}
			lk.lease = updated
			go lk.renew()
			return lk, nil
		}
		// Unknown: look again soon (a live holder renews every renewInterval).
		wait := renewInterval(d)
		if left := d - now.Sub(first.at); left < wait {
			wait = left
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.Clock.After(wait):
		}
	}
}

// holderName drops the random suffix for messages.
func holderName(id string) string {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '#' && i > 0 && id[i-1] == ' ' {
			return id[:i-1]
		}
	}
	return id
}

func forOf(l *coordinationv1.Lease) string { return l.Annotations[annotationFor] }

const annotationFor = "rotor.dev/lock-for"

func (l *Locker) newLease(namespace, fam string, now time.Time) *coordinationv1.Lease {
	t := metav1.NewMicroTime(now)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:        LeaseName(fam),
			Namespace:   namespace,
			Labels:      map[string]string{family.LabelFamily: family.LabelValue(fam), family.LabelManagedBy: family.ManagedByValue},
			Annotations: map[string]string{family.AnnotationFamily: fam},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(l.Identity()),
			LeaseDurationSeconds: ptr.To(int32(l.duration() / time.Second)),
			AcquireTime:          &t,
			RenewTime:            &t,
		},
	}
	if l.For != "" {
		lease.Annotations[annotationFor] = l.For
	}
	return lease
}

// renewInterval is how often a holder renews a Lease of duration d: often enough that
// a second run sees it alive within a couple of seconds, and six times per duration, so
// that a renewal has half the duration to get through before the lock is given up
// (see renewBudget).
func renewInterval(d time.Duration) time.Duration {
	if i := d / 6; i < 2*time.Second {
		return i
	}
	return 2 * time.Second
}

// retryInterval is how soon a renewal that failed is tried again: a quarter of the
// interval, so that a few quick failures (an API server restarting, a proxy answering
// 500s) are outlived by many tries within the budget rather than by two or three.
func retryInterval(d time.Duration) time.Duration { return renewInterval(d) / 4 }

// renewBudget is how long a renewal may take when the last one that succeeded was
// since ago: until two thirds of the duration d have passed since it (as client-go's
// renew deadline), when the lock is given up, a third of d before another run may take
// the Lease over. ok is false when that time has passed. One slow renewal may use all
// of it, as in leader election: the lock is not lost to an API server that answers late
// but within the Lease's life.
func renewBudget(d, since time.Duration) (budget time.Duration, ok bool) {
	budget = d*2/3 - since
	return budget, budget > 0
}

// renew keeps the Lease fresh until Release, and declares the lock lost when it cannot.
func (lk *Lock) renew() {
	defer close(lk.done)
	d := lk.l.duration()
	interval := renewInterval(d)
	lastOK := lk.l.Clock.Now()
	var lastErr error
	for {
		wait := interval
		if lastErr != nil {
			wait = retryInterval(d)
		}
		select {
		case <-lk.released.Done():
			return
		case <-lk.l.Clock.After(wait):
		}
		budget, ok := renewBudget(d, lk.l.Clock.Since(lastOK))
		if ok {
			// Release ends a renewal in flight (one may take a while) rather than wait.
			ctx, cancel := context.WithTimeout(lk.released, budget)
			err := lk.renewOnce(ctx)
			cancel()
			var lost *LostError
			switch {
			case lk.released.Err() != nil:
				return
			case err == nil:
				lastOK, lastErr = lk.l.Clock.Now(), nil
				continue
			case errors.As(err, &lost):
				lk.lose(lost)
				return
			}
			lastErr = err
			if _, ok = renewBudget(d, lk.l.Clock.Since(lastOK)); ok {
				continue
			}
		}
		reason := fmt.Sprintf("not renewed for %s, so another run may take it", lk.l.Clock.Since(lastOK).Round(time.Second))
		if lastErr != nil {
			reason += ": " + lastErr.Error()
		}
		lk.lose(&LostError{Family: lk.fam, Namespace: lk.namespace, Reason: reason})
		return
	}
}

// lose records the loss of the lock and tells those waiting on Lost.
func (lk *Lock) lose(lost *LostError) {
	lk.mu.Lock()
	lk.lost = lost
	lk.mu.Unlock()
	close(lk.lostCh)
}

// renewOnce renews the Lease; it returns a *LostError when the Lease is gone or held
// by someone else.
func (lk *Lock) renewOnce(ctx context.Context) error {
	leases := lk.l.Client.CoordinationV1().Leases(lk.namespace)
	lk.mu.Lock()
	next := lk.lease.DeepCopy()
	lk.mu.Unlock()
	next.Spec.RenewTime = ptr.To(metav1.NewMicroTime(lk.l.Clock.Now()))
	updated, err := leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: "rotor"})
	if err == nil {
		lk.mu.Lock()
		lk.lease = updated
		lk.mu.Unlock()
		return nil
	}
	if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		return err
	}
	cur, gerr := leases.Get(ctx, lk.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(gerr):
		return &LostError{Family: lk.fam, Namespace: lk.namespace, Reason: "its Lease was deleted"}
	case gerr != nil:
		return gerr
	case ptr.Deref(cur.Spec.HolderIdentity, "") != lk.l.Identity():
		return &LostError{Family: lk.fam, Namespace: lk.namespace, Reason: "taken by " + holderName(ptr.Deref(cur.Spec.HolderIdentity, "nobody"))}
	}
	// Still ours: an earlier renewal was applied although its answer was lost.
	lk.mu.Lock()
	lk.lease = cur
	lk.mu.Unlock()
	return lk.renewOnce(ctx)
}

// Lost is closed when the lock is lost.
func (lk *Lock) Lost() <-chan struct{} { return lk.lostCh }

// Err returns the *LostError once the lock is lost, else nil.
func (lk *Lock) Err() error {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.lost == nil {
		return nil
	}
	return lk.lost
}

// Context returns a context that is cancelled, with the *LostError as its cause, when
// the lock is lost.
func (lk *Lock) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-lk.lostCh:
			cancel(lk.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// Release gives the lock up: the Lease is deleted, guarded by its UID and
// resourceVersion so a lock taken over by someone else is left alone.
func (lk *Lock) Release(ctx context.Context) error {
	var err error
	lk.once.Do(func() {
		lk.release()
		<-lk.done
		if lk.Err() != nil {
			return
		}
		lk.mu.Lock()
		lease := lk.lease
		lk.mu.Unlock()
		derr := lk.l.Client.CoordinationV1().Leases(lk.namespace).Delete(ctx, lk.name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion},
		})
		if derr != nil && !apierrors.IsNotFound(derr) && !apierrors.IsConflict(derr) {
			err = fmt.Errorf("releasing the rotation lock: %w", derr)
		}
	})
	return err
}
