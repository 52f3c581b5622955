package controller

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/rotor-project/rotor/internal/refindex"
)

// Wake-ups. A new version (a Secret of the family) wakes its SecretRotations at once and
// ahead of everything else: it may start a rotation, and the time from a version's
// creation to its consumers naming it is what a rotation is judged by. A change of a
// consumer or of its Pods wakes the rotation in progress that it concerns at low
// priority, and at most once per lookInterval: during a rollout the Pods of a dozen
// consumers change many times a second, and each look reads every consumer of the
// rotation; without the bound, the rotations already rolling out keep the workers (and
// the API server) from the ones a new version starts.
const (
	// lookInterval is the least time between two looks of a rotation that a consumer's
	// change causes.
	lookInterval = time.Second
	// priorityVersion is a new version's wake-up; priorityGate a finished gate's (its
	// verdict may roll back); priorityLook a consumer change's and the requeue of a
	// waiting rotation.
	priorityVersion = 10
	priorityGate    = 0
	priorityLook    = handler.LowPriority
)

// onChange wakes the rotations a change concerns: every rotation of the family for a
// version (a new one may start a rotation), the rotations in progress for a workload
// or a Pod.
func (r *Reconciler) onChange(c refindex.Change) {
	for _, fam := range c.Families {
		for name, active := range r.tracked.get(c.Namespace, fam) {
			key := types.NamespacedName{Namespace: c.Namespace, Name: name}
			switch {
			case c.Kind == "Secret":
				r.woken.LoadOrStore(key, r.clock.Now())
				r.add(key, 0, priorityVersion)
			case active:
				r.add(key, r.sinceLook(key), priorityLook)
			}
		}
	}
}

// sinceLook is how long a consumer's change waits before it wakes key: what is left
// of lookInterval since the rotation's last look.
func (r *Reconciler) sinceLook(key types.NamespacedName) time.Duration {
	t, ok := r.looked.Load(key)
	if !ok {
		return 0
	}
	return max(0, lookInterval-r.clock.Since(t.(time.Time)))
}

// add queues key after a delay with a priority (the queue keeps the earliest time and
// the highest priority of those asked for one key).
func (r *Reconciler) add(key types.NamespacedName, after time.Duration, priority int) {
	q := r.queue.Load()
	if q == nil {
		return
	}
	req := reconcile.Request{NamespacedName: key}
	if pq, ok := (*q).(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{After: after, Priority: ptr.To(priority)}, req)
		return
	}
	if after > 0 {
		(*q).AddAfter(req, after)
		return
	}
	(*q).Add(req)
}
